"""POST /webhooks/suppliers/aliexpress/: AliExpress's order-status messages (stored first)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from suppliers.services.messages import MAX_BODY, aliexpress_message_receive, supplier_message_enqueue


@csrf_exempt  # AliExpress signs its messages with the operator's app secret; there is no session
@require_POST
def aliexpress_message(request: HttpRequest) -> HttpResponse:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY:  # refused before the body is read
        return HttpResponse(f"body larger than {MAX_BODY} bytes", status=413, content_type="text/plain")
    receipt = aliexpress_message_receive(headers=request.headers, body=request.body)
    if receipt.message_id is not None:
        supplier_message_enqueue(receipt.message_id)
    return HttpResponse(receipt.message, status=receipt.status, content_type="text/plain; charset=utf-8")
