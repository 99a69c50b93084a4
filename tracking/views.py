"""POST /webhooks/17track/: 17TRACK's pushes (signed; stored first, processed by a task)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tracking.services.messages import MAX_BODY, tracking_message_enqueue, tracking_message_receive


@csrf_exempt  # 17TRACK signs its pushes with the operator's security key; there is no session
@require_POST
def track17_webhook(request: HttpRequest) -> HttpResponse:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY:  # refused before the body is read
        return HttpResponse(f"body larger than {MAX_BODY} bytes", status=413, content_type="text/plain")
    receipt = tracking_message_receive(headers=request.headers, body=request.read(MAX_BODY + 1))
    if receipt.message_id is not None:
        tracking_message_enqueue(receipt.message_id)
    return HttpResponse(receipt.message, status=receipt.status, content_type="text/plain; charset=utf-8")
