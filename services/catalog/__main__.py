"""Run the catalog service: `python -m services.catalog`."""

from services.catalog.bootstrap import SCHEMA, SERVICE_NAME, build
from services.catalog.settings import CatalogSettings
from services.common.runtime import main

if __name__ == "__main__":
    main(SERVICE_NAME, SCHEMA, CatalogSettings(), build)  # type: ignore[call-arg]
