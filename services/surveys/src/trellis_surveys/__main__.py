"""``trellis-surveys serve|migrate``."""

from trellis_common.cli import service_cli
from trellis_surveys.service import DEFINITION


def main() -> None:
    service_cli(DEFINITION)()


if __name__ == "__main__":
    main()
