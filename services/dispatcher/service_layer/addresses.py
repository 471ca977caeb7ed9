"""Suppressing an address, inside the caller's unit of work."""

from __future__ import annotations

from services.dispatcher.service_layer.unit_of_work import DispatcherUnitOfWork


async def suppress(uow: DispatcherUnitOfWork, email: str, reason: str) -> None:
    """Never email the address again; the personalizer hears of it the first time."""
    address = await uow.addresses.get(email)
    address.suppress(reason)
    await uow.addresses.save(address)
