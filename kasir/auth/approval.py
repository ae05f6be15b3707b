"""Supervisor approval at the till, the web half (kasir.approvals holds the rules).

A gated action answers with `approval_modal` when it needs a supervisor: the modal (templates/pos/_approval.html)
sends the same request again, same URL and fields, plus the supervisor's name and PIN, which the action reads
with `approver_from_form`. Once approved, `approved` closes the modal.
"""
from flask import g, make_response, render_template, request

from .. import approvals
from ..models import User

APPROVER_FIELD = "approver"
SECRET_FIELD = "approver_secret"
REASON_FIELD = "approval_reason"  # why approval is asked, shown again after a wrong PIN
APPROVED_EVENT = "kasir:approved"  # kasir.js closes the approval modal on it
_NOT_RESENT = {APPROVER_FIELD, SECRET_FIELD, REASON_FIELD, "csrf_token"}


def approver_from_form(action: str, target: str, detail: str = "") -> User | None:
    """The supervisor this request names, checked (approvals.approve audits it); None when it names none.

    Call it before the action changes anything: a refusal commits its audit row.
    """
    if APPROVER_FIELD not in request.form:
        return None
    return approvals.approve(g.user, request.form.get(APPROVER_FIELD, ""), request.form.get(SECRET_FIELD, "")[:128],
                             action=action, target=target, detail=detail)


def approval_modal(reason: str, *, target: str, swap: str = "outerHTML", error: str | None = None):
    """Ask for a supervisor in the till's modal; approving re-sends this request to `target` with `swap`."""
    fields = [(name, value) for name, value in request.form.items(multi=True) if name not in _NOT_RESENT]
    body = render_template("pos/_approval.html", reason=reason, error=error, action=request.path, fields=fields,
                           target=target, swap=swap, supervisors=approvals.supervisors(),
                           chosen=request.form.get(APPROVER_FIELD, ""))
    response = make_response(body, 403)
    response.headers["HX-Retarget"] = "#modal"
    response.headers["HX-Reswap"] = "innerHTML"
    return response


def ask_approval(problem: approvals.ApprovalNeeded | approvals.ApprovalRefused, *, target: str,
                 swap: str = "outerHTML"):
    """The modal for an action that raised ApprovalNeeded, or again with the reason after ApprovalRefused."""
    if isinstance(problem, approvals.ApprovalNeeded):
        return approval_modal(problem.reason, target=target, swap=swap)
    return approval_modal(request.form.get(REASON_FIELD, "")[:300], target=target, swap=swap, error=str(problem))


def approved(response):
    """Close the approval modal once `response` (the action's own answer) has been swapped in."""
    response = make_response(response)
    if APPROVER_FIELD in request.form:
        existing = response.headers.get("HX-Trigger-After-Settle")
        response.headers["HX-Trigger-After-Settle"] = f"{existing}, {APPROVED_EVENT}" if existing else APPROVED_EVENT
    return response
