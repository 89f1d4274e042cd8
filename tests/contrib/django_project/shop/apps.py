from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"

    def ready(self) -> None:
        from djtasks import task_finished, task_started

        from .models import Event

        def started(sender, task_result, **kwargs):
            Event.objects.create(tag=f"started {task_result.id} {task_result.status}")

        def finished(sender, task_result, **kwargs):
            Event.objects.create(tag=f"finished {task_result.id} {task_result.status}")

        task_started.connect(started, weak=False)
        task_finished.connect(finished, weak=False)
