"""Local AWS for pixelctl: moto 5.2.5 in server mode plus a CloudFormation engine.

`server.serve` starts it; `engine` deploys stacks onto moto's service backends;
`resources` maps each CloudFormation type to those backends.
"""

PINNED_MOTO_VERSION = "5.2.5"


class MotoVersionError(RuntimeError):
    """The installed moto is not the version these extensions were written against."""


def check_moto_version() -> None:
    """Fail loudly on any other moto: the extensions rely on its internals."""
    import moto

    if moto.__version__ != PINNED_MOTO_VERSION:
        raise MotoVersionError(
            f"local AWS needs moto=={PINNED_MOTO_VERSION}, found {moto.__version__}; "
            "run tools/local-aws/setup.sh (or update the extensions and the pin together)"
        )
