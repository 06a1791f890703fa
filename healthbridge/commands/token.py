"""``healthbridge token``: mint a signed local bearer token and print the token alone.

For local use and tests (``HEALTHBRIDGE_AUTH_MODE=local``): the token is signed with
``HEALTHBRIDGE_AUTH_SECRET`` (in development without one: the secret generated in the data
directory, the one the server uses). Example::

    TOKEN=$(healthbridge token --role parent --user mother-1 --fhir-user RelatedPerson/rp-1)
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/fhir/Patient
"""

from __future__ import annotations

import argparse
import sys


def _lifetime(text: str) -> int:
    """Minutes, or a number with a unit: ``90``, ``30m``, ``8h``, ``2d``."""
    units = {"m": 1, "h": 60, "d": 1440}
    value = text.strip().lower()
    factor = units.get(value[-1:])
    number = value[:-1] if factor else value
    try:
        minutes = int(number) * (factor or 1)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid lifetime {text!r}") from exc
    if minutes <= 0:
        raise argparse.ArgumentTypeError("the lifetime must be positive")
    return minutes


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``token`` sub-command."""
    from healthbridge.access.tokens import Role

    parser = subparsers.add_parser(
        "token", help="mint a signed local bearer token (printed alone on standard output)"
    )
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--user", required=True, help="the token subject (user id)")
    parser.add_argument(
        "--fhir-user",
        help="the user's FHIR resource: RelatedPerson/… for a parent, PractitionerRole/… for staff",
    )
    parser.add_argument("--org", help="the user's organisation, e.g. Organization/centre-1")
    parser.add_argument(
        "--scopes", help="SMART scopes, space separated (default: the role's default scopes)"
    )
    parser.add_argument(
        "--lifetime", type=_lifetime, default=480, help="minutes, or 30m / 8h / 2d (default 8h)"
    )
    parser.set_defaults(handler=token_command)


def token_command(args: argparse.Namespace) -> int:
    """Print a token for the given role and user."""
    import datetime as dt

    from healthbridge.access.scopes import parse_scopes
    from healthbridge.access.tokens import Role, mint_token
    from healthbridge.config import get_settings

    settings = get_settings()
    if settings.auth_mode != "local":
        sys.stderr.write("healthbridge token mints local tokens; HEALTHBRIDGE_AUTH_MODE is oidc\n")
        return 2
    if args.scopes is not None:
        parse_scopes(args.scopes)  # refuse malformed scopes before signing
    token = mint_token(
        secret=settings.local_secret(),
        role=Role(args.role),
        subject=args.user,
        fhir_user=args.fhir_user,
        organization=args.org,
        scopes=args.scopes,
        lifetime=dt.timedelta(minutes=args.lifetime),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )
    sys.stdout.write(token + "\n")
    return 0
