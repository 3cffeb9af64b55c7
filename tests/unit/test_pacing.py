"""Pacing: Compute's remaining-request headers are read, and writes wait when a budget is spent."""

from __future__ import annotations

from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy
from azure.core.rest import HttpRequest

from hpctl.edge import pacing
from hpctl.edge.pacing import PacingPolicy, parse_remaining

VM = "https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/"


def test_parse_remaining_header():
    header = ("Microsoft.Compute/VMGuestPatchOperationSubscriptionMaximum;599,"
              "Microsoft.Compute/VMGuestPatchOperationResource;5")
    assert parse_remaining(header) == {"VMGuestPatchOperationSubscriptionMaximum": 599,
                                       "VMGuestPatchOperationResource": 5}
    assert parse_remaining(None) == {} and parse_remaining("garbage") == {}


class Answer(HTTPPolicy):
    def __init__(self, header: str) -> None:
        super().__init__()
        self.header = header

    def send(self, request: PipelineRequest) -> PipelineResponse:
        class Http:
            headers = {"x-ms-ratelimit-remaining-resource": self.header}

        return PipelineResponse(request.http_request, Http(), request.context)


def send(policy: PacingPolicy, method: str, url: str) -> None:
    from azure.core.pipeline import PipelineContext

    policy.send(PipelineRequest(HttpRequest(method, url), PipelineContext(None)))


def test_per_vm_budget_slows_only_that_vm(monkeypatch: Any):
    slept: list[float] = []
    monkeypatch.setattr(pacing.time, "sleep", slept.append)
    policy = PacingPolicy(low_water=1, delay=2.0)
    policy.next = Answer("Microsoft.Compute/VMGuestPatchOperationResource;0")
    send(policy, "POST", VM + "web-01/assessPatches")
    assert slept == []
    send(policy, "POST", VM + "web-02/assessPatches")  # another VM's budget is its own
    assert slept == []
    send(policy, "POST", VM + "web-01/installPatches")
    assert slept == [4.0]
    send(policy, "GET", VM + "web-01")  # reads are not paced
    assert slept == [4.0]


def test_subscription_budget_slows_every_write(monkeypatch: Any):
    slept: list[float] = []
    monkeypatch.setattr(pacing.time, "sleep", slept.append)
    policy = PacingPolicy(low_water=1, delay=2.0, max_delay=3.0)
    policy.next = Answer("Microsoft.Compute/VMGuestPatchOperationSubscriptionMaximum;1")
    send(policy, "POST", VM + "a/assessPatches")
    send(policy, "POST", VM + "b/assessPatches")
    assert slept == [2.0]
    assert policy.snapshot() == {"VMGuestPatchOperationSubscriptionMaximum@subscription": 1}
