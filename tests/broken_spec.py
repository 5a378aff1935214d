"""A spec whose shape pass fails at one layer, shared by the render and figure tests."""

# The add's branches disagree (16x32x32 vs 16x16x16): the add is where it breaks.
BROKEN = """\
block Res(c: int) {
    add {
        [conv2d(c, 3, padding=1) -> relu]
        conv2d(c, 1, stride=2)
    }
}

network Broken {
    input [3, 32, 32]
    stem: conv2d(16, 3, padding=1)
    r: Res(16)
    flatten -> linear(10)
}
"""
