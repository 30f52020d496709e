"""hwnas.nn.model_costs: parameter count and FLOPs as torch's FlopCounterMode reports them."""

from __future__ import annotations

import torch
from torch import nn

from hwnas.nn.model_costs import count_flops, count_params


def _net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


def test_count_params_is_sum_of_numel_and_counts_shared_once():
    net = _net()
    assert count_params(net) == sum(p.numel() for p in net.parameters())
    assert count_params(net) == 3 * 8 * 9 + 2 * 8 + 8 * 9 + 8 * 10 + 10  # 394
    shared = nn.Linear(4, 4)
    assert count_params(nn.Sequential(shared, shared)) == 20


def test_linear_flops_are_two_per_mac():
    assert count_flops(nn.Linear(10, 20), (1, 10)) == 400  # 200 MACs, bias not counted
    assert count_flops(nn.Linear(10, 20), (3, 10)) == 1200


def test_conv_flops_including_depthwise_and_mode_restored():
    net = _net().train()
    stats = net[1].running_mean.clone()
    flops = count_flops(net, (1, 3, 16, 16))
    full = 2 * 3 * 9 * 8 * 16 * 16  # 2 x cin x k^2 x cout x H x W
    depthwise = 2 * 1 * 9 * 8 * 8 * 8  # one input channel per group, stride 2 output 8x8
    assert flops == full + depthwise + 2 * 8 * 10
    assert net.training  # previous mode restored
    assert torch.equal(net[1].running_mean, stats)  # ran in eval mode: BN stats untouched
    assert all(p.grad is None for p in net.parameters())
