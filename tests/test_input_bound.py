"""A compiled network whose modules fit only some input sizes (a linear after
flatten) checks its input (torch._assert: fx, export and TorchScript take it), with a
message that names the input that came and says what to do; the sizes it lets
through are exactly those torch runs. Size-generic networks get no check."""
from __future__ import annotations

from pathlib import Path

import pytest

import netdsl
from netdsl.backends.input_bound import bound_input

torch = pytest.importorskip("torch")
SPECS = Path(__file__).resolve().parent.parent / "specs"


def test_lenet_is_bound_to_the_sizes_its_linear_layers_fit():
    bound = bound_input(netdsl.check(str(SPECS / "lenet.net")).graph())
    assert bound is not None and bound.shape == (1, 28, 28) and bound.ranges == [(28, 31), (28, 31)]


@pytest.mark.parametrize("name", ["resnet18", "alexnet", "unet", "mobilenet_v3_small", "densenet121", "nin"])
def test_size_generic_networks_get_no_input_check(name):
    graph = netdsl.check(str(SPECS / f"{name}.net")).graph()
    assert bound_input(graph) is None
    assert "was built for" not in netdsl.build_source(str(SPECS / f"{name}.net"))


def test_the_check_lets_through_exactly_the_sizes_torch_runs():
    # the class for the compiled values only (what a network outside the parametric subset gets)
    from netdsl.backends.build import exec_source
    from netdsl.backends.codegen import generate
    source = generate(list(netdsl.check(str(SPECS / "lenet.net")).graphs), block_classes=False)
    model = exec_source(source).LeNet().eval()
    layers = torch.nn.Sequential(*model.children())        # the same modules, without the check
    for n in range(20, 40):
        x = torch.randn(1, 1, n, n)
        try:
            layers(x)
            torch_runs = True
        except RuntimeError:
            torch_runs = False
        if torch_runs:
            assert model(x).shape == (1, 10), n
        else:
            with pytest.raises(AssertionError, match=rf"^LeNet was built for 1×28×28 inputs \(its layers fit "
                                                     rf"heights 28 to 31 and widths 28 to 31\), got 1×{n}×{n}: "
                                                     r"recompile the spec for another size"):
                model(x)


def test_a_flat_input_is_never_bound():
    graph = netdsl.check("network Flat {\n    input [64]\n    linear(10)\n}\n").graphs[0]
    assert bound_input(graph) is None


def test_the_parametric_class_checks_the_size_it_was_built_for():
    """LeNet's class takes input_size: its check is the size it was built with, whatever it
    is, and it lets through exactly the sizes torch runs with the same modules."""
    lenet = netdsl.load(str(SPECS / "lenet.net"))
    Net = type(lenet)
    for size in (28, 32, 40):
        model = Net(input_size=(1, size, size)).eval()
        layers = torch.nn.Sequential(*model.children())        # the same modules, without the check
        assert tuple(model(torch.randn(2, 1, size, size)).shape) == (2, 10)
        for other in range(size - 4, size + 6):
            x = torch.randn(1, 1, other, other)
            try:
                layers(x)
                torch_runs = True
            except RuntimeError:
                torch_runs = False
            if torch_runs:
                assert tuple(model(x).shape) == (1, 10), (size, other)
            else:
                with pytest.raises(AssertionError, match=rf"^LeNet was built for 1×{size}×{size} inputs, "
                                                         rf"got 1×{other}×{other}: rebuild with input_size="
                                                         rf"\(1, {other}, {other}\)$"):
                    model(x)


def test_lenet_at_28_takes_what_torch_takes_and_names_the_input_it_refuses():
    """Issue 13, requirement 3, with the numbers written by hand: LeNet's two pools floor
    29, 30 and 31 to the sizes 28 gives (5x5 before the first linear), 32 gives 6x6."""
    Net = type(netdsl.load(str(SPECS / "lenet.net")))
    model = Net().eval()
    for size in (28, 29, 30, 31):
        assert tuple(model(torch.randn(1, 1, size, size)).shape) == (1, 10)
    with pytest.raises(AssertionError) as refused:
        model(torch.randn(1, 1, 32, 32))
    assert str(refused.value) == "LeNet was built for 1×28×28 inputs, got 1×32×32: rebuild with input_size=(1, 32, 32)"
    assert tuple(Net(input_size=(1, 32, 32))(torch.randn(1, 1, 32, 32)).shape) == (1, 10)
    wide = Net(input_size=(1, 28, 36))      # other widths: the first linear follows them
    assert wide.linear.in_features == 16 * 5 * 7
    assert tuple(wide(torch.randn(1, 1, 28, 36)).shape) == (1, 10)
