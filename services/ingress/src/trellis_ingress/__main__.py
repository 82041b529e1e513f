"""``trellis-ingress serve|migrate``."""

from trellis_common.cli import service_cli
from trellis_ingress.service import DEFINITION


def main() -> None:
    service_cli(DEFINITION)()


if __name__ == "__main__":
    main()
