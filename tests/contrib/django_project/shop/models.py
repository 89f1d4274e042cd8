from django.db import models


class Order(models.Model):
    sku = models.CharField(max_length=50)
    qty = models.IntegerField()
    note = models.CharField(max_length=50, default="")


class Event(models.Model):
    tag = models.CharField(max_length=200)
