"""Run the personalizer service: `python -m services.personalizer`."""

from services.common.runtime import main
from services.personalizer.bootstrap import SCHEMA, SERVICE_NAME, build
from services.personalizer.settings import PersonalizerSettings

if __name__ == "__main__":
    main(SERVICE_NAME, SCHEMA, PersonalizerSettings(), build)  # type: ignore[call-arg]
