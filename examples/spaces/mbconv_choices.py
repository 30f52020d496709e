"""A user's own module with choice points: the `proxyless` chain written as plain torch.

    hwnas profile --space examples/spaces/mbconv_choices.py:build_model --space-opt resolution=16

Each searchable layer is `choice({...}, label)` over MBConv blocks (and `zero`, an
nn.Identity, where the layer keeps its shape), with proxyless's labels and option names, so
tests/unit/test_user_module_space.py can hold it equal to `ProxylessSpace`.
"""

import torch.nn as nn

from hwnas import choice

STAGES = ((24, 2, 1), (40, 3, 2), (80, 3, 2), (96, 2, 1), (192, 2, 2))  # width, layers, stride


def divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn(cin, cout, kernel, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    return layers + [nn.ReLU6(inplace=True)] if act else layers


class MBConv(nn.Module):
    def __init__(self, cin, cout, kernel, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.body = nn.Sequential(*conv_bn(cin, hidden, 1),
                                  *conv_bn(hidden, hidden, kernel, stride, groups=hidden),
                                  *conv_bn(hidden, cout, 1, act=False))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        out = self.body(x)
        return out + x if self.residual else out


class Head(nn.Module):
    def __init__(self, cin, width, num_classes):
        super().__init__()
        self.features = nn.Sequential(*conv_bn(cin, width, 1))
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(x.flatten(1))


def build_model(num_classes=10, in_channels=3, resolution=32, width_mult=0.25):
    width = lambda c: divisible(c * width_mult)  # noqa: E731
    cin = width(16)
    stem_stride = 1 if resolution <= 64 else 2
    layers = []
    for s, (channels, count, stride) in enumerate(STAGES, start=1):
        cout = width(channels)
        for b in range(count):
            step = stride if b == 0 else 1
            candidates = {f"mb_k{k}_e{e}": MBConv(cin, cout, k, step, e)
                          for k in (3, 5, 7) for e in (3, 6)}
            if cin == cout and step == 1:
                candidates["zero"] = nn.Identity()
            layers.append(choice(candidates, f"s{s}.b{b}"))
            cin = cout
    return nn.Sequential(nn.Sequential(*conv_bn(in_channels, width(16), 3, stem_stride)),
                         nn.Sequential(*layers), Head(cin, width(256), num_classes))
