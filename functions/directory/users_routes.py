"""Health, the caller (``/v1/me``) and user grants (API.md, Identity and roles; Directory)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from directory_models import GrantIn, GrantOut, Health, MeOut

from segshare_core.api import CallerDep, Id, error_responses, no_content, ok
from segshare_core.usecases import grants

router = Router()  # type: ignore[no-untyped-call]  # Powertools' Router.__init__ is unannotated


@router.get("/v1/health", responses={**ok(Health), **error_responses()})
def health() -> Health:
    return Health(status="ok")


@router.get("/v1/me", responses={**ok(MeOut), **error_responses()})
def me(caller: CallerDep) -> MeOut:
    return MeOut.model_validate(grants.me(caller))


@router.put("/v1/companies/<companyId>/users/<userId>", responses={**ok(GrantOut), **error_responses(404, 409)})
def put_user(companyId: Id, userId: Id, body: Annotated[GrantIn, Body()], caller: CallerDep) -> GrantOut:
    return GrantOut.model_validate(grants.put_grant(caller, companyId, userId, body.role, body.projectIds))


@router.delete("/v1/companies/<companyId>/users/<userId>", responses={**no_content(), **error_responses(404)})
def delete_user(companyId: Id, userId: Id, caller: CallerDep) -> Response[None]:
    grants.delete_grant(caller, companyId, userId)
    return Response(status_code=204)
