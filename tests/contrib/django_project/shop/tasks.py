"""The shop's tasks: each exercises one part of django.tasks on honker."""

import asyncio
import time

from djtasks import task

from .models import Event, Order


@task
def ship_order(order_id: int) -> dict:
    """Writes a model row from the worker and returns JSON."""
    order = Order.objects.get(pk=order_id)
    Order.objects.create(sku=order.sku, qty=order.qty, note=f"shipped {order_id}")
    return {"shipped": order_id, "sku": order.sku}


class PaymentDeclined(Exception):
    pass


@task
def charge(amount: int) -> None:
    raise PaymentDeclined(f"declined {amount}")


@task
def flaky(tag: str) -> str:
    """Fails on its first attempt, succeeds on the second."""
    if not Event.objects.filter(tag=f"flaky {tag}").exists():
        Event.objects.create(tag=f"flaky {tag}")
        raise RuntimeError("first attempt fails")
    return f"ok {tag}"


@task(queue_name="prio")
def record(tag: str) -> str:
    Event.objects.create(tag=f"record {tag}")
    return tag


@task
async def add_async(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


@task(takes_context=True)
def whoami(context) -> dict:
    return {"id": context.task_result.id, "attempt": context.attempt}


@task(backend="short", queue_name="slow")
def nap(seconds: float) -> str:
    """Outlives the "short" backend's visibility timeout (2 s)."""
    time.sleep(seconds)
    return "rested"
