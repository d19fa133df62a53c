"""Every built-in lifetime-value model passes the shared contract; adding one is a three-line class."""

from __future__ import annotations

import sys

from cartwise.predict import (
    BGNBD,
    MBGNBD,
    PURCHASE_MODELS,
    SPEND_MODELS,
    GammaGamma,
    ParetoNBD,
    PurchaseModel,
    SpendModel,
)

from .contract import PurchaseModelContract, SpendModelContract


class TestBGNBD(PurchaseModelContract):
    def make(self) -> PurchaseModel:
        return BGNBD()


class TestMBGNBD(PurchaseModelContract):
    def make(self) -> PurchaseModel:
        return MBGNBD()


class TestParetoNBD(PurchaseModelContract):
    def make(self) -> PurchaseModel:
        return ParetoNBD()


class TestGammaGamma(SpendModelContract):
    def make(self) -> SpendModel:
        return GammaGamma()


def test_every_registered_model_has_a_contract_test() -> None:
    module = sys.modules[__name__]
    tested = {
        type(obj().make())
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, PurchaseModelContract | SpendModelContract)
        and obj not in (PurchaseModelContract, SpendModelContract)
    }
    registered = set(PURCHASE_MODELS.values()) | set(SPEND_MODELS.values())
    assert registered <= tested, registered - tested
