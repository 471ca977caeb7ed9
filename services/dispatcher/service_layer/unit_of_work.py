"""The dispatcher's unit of work, as its use cases see it: deliveries and addresses."""

from __future__ import annotations

from services.common.unit_of_work import UnitOfWork
from services.dispatcher.service_layer.ports import AddressRepository, DeliveryRepository


class DispatcherUnitOfWork(UnitOfWork):
    deliveries: DeliveryRepository
    addresses: AddressRepository
