"""Run the dispatcher service: `python -m services.dispatcher`."""

from services.common.runtime import main
from services.dispatcher.bootstrap import SCHEMA, SERVICE_NAME, build
from services.dispatcher.settings import DispatcherSettings

if __name__ == "__main__":
    main(SERVICE_NAME, SCHEMA, DispatcherSettings(), build)  # type: ignore[call-arg]
