"""The fast path (srcnn.fast, srcnn.onnxmini, and the benchmark's bench/fold.py) against the reference pipeline.

Tolerances, all from float32 rounding in a different order of operations (no approximation):
- float output: |fast - reference| <= 2e-6 (values in [0, 1]; observed <= 6e-7);
- uint8 / uint16 output: at most one level, and for uint8 on at most 0.1 % of the samples
  (a level flips only where the reference value lies within ~1e-6 of a rounding boundary);
- the CNN alone: <= 1e-5 absolute on random inputs in [0, 1];
- fold: <= 1e-5 in the interior (more than the receptive-field radius from the image edge).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from srcnn.border import pad_replicate
from srcnn.export import conv_stack_graph, write_model
from srcnn.fast import FastModel, split_carry, upscale_fast
from srcnn.onnxmini import Graph, read_conv_stack
from srcnn.pipeline import upscale
from srcnn.resize import imresize
from srcnn.runtime import Model, ModelInfo
from conftest import ROOT, identity_layers, random_layers


def _bench_fold():
    """bench/fold.py, benchmark code (not part of the package), loaded from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_fold", ROOT / "bench" / "fold.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def residual_as_plain(n1=6, n2=4, f=(9, 5, 5), seed=0):
    """A small random residual SRCNN exported as a plain one, like training/model.plain_weights."""
    rng = np.random.default_rng(seed)
    w1, b1 = rng.normal(0, 0.05, (n1, 1, f[0], f[0])), rng.normal(0, 0.01, n1)
    w2, b2 = rng.normal(0, 0.1, (n2, n1, f[1], f[1])), rng.normal(0, 0.01, n2)
    w3, b3 = rng.normal(0, 0.1, (1, n2, f[2], f[2])), rng.normal(0, 0.01, 1)
    W1 = np.concatenate([w1, np.zeros((1, 1, f[0], f[0]))])
    W1[n1, 0, f[0] // 2, f[0] // 2] = 1.0
    W2 = np.zeros((n2 + 1, n1 + 1, f[1], f[1]))
    W2[:n2, :n1] = w2
    W2[n2, n1, f[1] // 2, f[1] // 2] = 1.0
    W3 = np.zeros((1, n2 + 1, f[2], f[2]))
    W3[:, :n2] = w3
    W3[0, n2, f[2] // 2, f[2] // 2] = 1.0
    return [(W1, np.append(b1, 1.0)), (W2, np.append(b2, 0.0)), (W3, b3 - 1.0)]


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    d = tmp_path_factory.mktemp("fast")
    out = {}
    for name, layers in {"residual955": residual_as_plain(), "residual915": residual_as_plain(f=(9, 1, 5), seed=1),
                         "plain": random_layers(), "identity": identity_layers()}.items():
        info = ModelInfo.load(write_model(d, name, layers, scale=3, variant="t"))
        out[name] = (Model(info), FastModel(info))
    return out


def _close(a, b, dtype):
    a, b = a.astype(np.float64), b.astype(np.float64)
    d = np.abs(a - b)
    if np.dtype(dtype).kind == "f":
        assert d.max() <= 2e-6, d.max()
    else:
        assert d.max() <= 1, d.max()
        if dtype == np.uint8:
            assert (d > 0).mean() <= 1e-3, (d > 0).mean()


def test_onnxmini_writes_valid_onnx_and_reads_weight_files(tmp_path):
    import onnx

    layers = random_layers(3)
    model = conv_stack_graph(layers)
    got = read_conv_stack(model.SerializeToString())
    for (w, b), (gw, gb) in zip(layers, got):
        assert np.array_equal(np.float32(w), gw) and np.array_equal(np.float32(b), gb)
    g = Graph()
    x = g.input("x", np.float32, [1, 1, "H", "W"])
    y = g.add("Pad", [x, g.const(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))], mode="edge")
    g.add("Conv", [y, g.const(np.ones((2, 1, 3, 3), np.float32))], out="y", kernel_shape=[3, 3], strides=[1, 1])
    g.output("y", np.float32, [1, 2, "H", "W"])
    onnx.checker.check_model(onnx.load_from_string(g.serialize()), full_check=True)


def test_onnxmini_refuses_other_graphs():
    from onnx import helper, TensorProto

    node = helper.make_node("Sigmoid", ["input"], ["output"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1])])
    with pytest.raises(ValueError):
        read_conv_stack(helper.make_model(graph).SerializeToString())


@pytest.mark.parametrize("s", [1, 2, 3, 4])
def test_bicubic_phases_are_matlab_imresize(s):
    x = np.random.default_rng(s).random((12, 13))
    k = _bench_fold().bicubic_phases(s)
    xp = np.pad(x, 2, mode="symmetric")
    rows = np.stack([sum(k[p, t] * xp[t:t + 12] for t in range(5)) for p in range(s)], 1).reshape(12 * s, -1)
    both = np.stack([sum(k[p, t] * rows[:, t:t + 13] for t in range(5)) for p in range(s)], 2).reshape(12 * s, 13 * s)
    assert np.abs(both - imresize(x, s)).max() < 1e-12


def test_split_carry_finds_the_residual_channel():
    core, carry = split_carry([(np.float32(w), np.float32(b)) for w, b in residual_as_plain()])
    assert carry is not None and [w.shape for w, _ in core] == [(6, 1, 9, 9), (4, 6, 5, 5), (1, 4, 5, 5)]
    assert (carry.a1, carry.c1, carry.a2, carry.c2, carry.a3) == (1.0, 1.0, 1.0, 0.0, 1.0)
    assert split_carry(random_layers())[1] is None


@pytest.mark.parametrize("name", ["residual955", "residual915", "plain", "identity"])
@pytest.mark.parametrize("block", [1, 4])
def test_cnn_alone_matches_reference(nets, name, block):
    ref, fm = nets[name]
    fm = FastModel(fm.info, block=block)
    sess = fm.cnn_session()
    y = np.random.default_rng(2).random((40 + 2 * ref.radius, 28 + 2 * ref.radius), dtype=np.float32)
    got = sess.run(None, {"input": y[None, None]})[0][0, 0]
    assert np.abs(got - ref.run(y)).max() <= 1e-5


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 45), w=st.integers(1, 45), scale=st.sampled_from([1, 2, 3, 4]),
       layout=st.sampled_from([(), (1,), (2,), (3,), (4,)]), dtype=st.sampled_from([np.uint8, np.uint16, np.float32]),
       tile=st.integers(16, 80), name=st.sampled_from(["residual955", "residual915", "plain"]))
def test_fast_upscale_matches_reference(nets, h, w, scale, layout, dtype, tile, name):
    ref, fm = nets[name]
    rng = np.random.default_rng(h * 1000 + w)
    shape = (h, w) + layout
    img = rng.random(shape).astype(np.float32) if dtype == np.float32 else \
        rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)
    a = upscale(img, scale, model=ref, tile=tile, fast=False)
    b = upscale(img, scale, model=ref, tile=tile, fast=fm)
    assert a.shape == b.shape and a.dtype == b.dtype
    _close(a, b, dtype)


def test_fast_uint8_flips_are_rare_on_a_larger_image(nets):
    ref, fm = nets["residual955"]
    img = np.random.default_rng(3).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    _close(upscale(img, 3, model=ref, fast=False), upscale(img, 3, model=ref, fast=fm), np.uint8)


@pytest.mark.parametrize("tile", [16, 37, 100])
def test_fast_result_does_not_depend_on_tile(nets, tile):
    _, fm = nets["residual955"]
    img = np.random.default_rng(4).integers(0, 256, (41, 53, 3), dtype=np.uint8)
    assert np.array_equal(upscale_fast(img, 3, fm, tile=tile), upscale_fast(img, 3, fm, tile=100000))


def test_fast_falls_back_to_reference(nets):
    ref, fm = nets["residual955"]
    img = np.random.default_rng(5).integers(0, 256, (21, 17, 3), dtype=np.uint8)
    assert np.array_equal(upscale(img, 2.5, model=ref, fast=True), upscale(img, 2.5, model=ref, fast=False))
    assert np.array_equal(upscale(img, 2, model=Model(ref.info, "opencv"), fast=True),
                          upscale(img, 2, model=Model(ref.info, "opencv"), fast=False))
    with pytest.raises(ValueError):
        upscale(img, float("nan"), model=ref, fast=True)
    with pytest.raises(ValueError):
        upscale(np.full((4, 4), np.nan, np.float32), 2, model=ref, fast=True)


def test_fast_true_resolves_shipped_models(tiny_weights):
    img = np.random.default_rng(6).integers(0, 256, (30, 20, 3), dtype=np.uint8)
    for s in (2, 3, 4):
        _close(upscale(img, s, fast=False), upscale(img, s, fast=True), np.uint8)


def test_tile_workers_give_the_same_result(nets):
    _, fm = nets["residual955"]
    par, one = FastModel(fm.info, tile_workers=2), FastModel(fm.info, tile_workers=1)
    img = np.random.default_rng(8).integers(0, 256, (50, 45, 3), dtype=np.uint8)
    done = []
    got = upscale_fast(img, 3, par, tile=32, progress=lambda k, n: done.append((k, n)))
    assert np.array_equal(got, upscale_fast(img, 3, one, tile=32))
    assert done[-1][0] == done[-1][1] == len(done)


def test_fast_is_thread_safe(nets):
    from concurrent.futures import ThreadPoolExecutor

    _, fm = nets["residual955"]
    img = np.random.default_rng(7).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    ref = upscale_fast(img, 2, fm)
    with ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda _: upscale_fast(img, 2, fm, tile=32), range(8)))
    assert all(np.array_equal(o, ref) for o in outs)


@pytest.mark.parametrize("s", [2, 3, 4])
@pytest.mark.parametrize("name", ["residual955", "residual915", "plain"])
def test_fold_exact_in_the_interior(nets, s, name):
    import onnxruntime as ort

    ref, fm = nets[name]
    graph, geo = _bench_fold().fold_graph(fm.layers, s)
    sess = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    n = 30
    while geo.out_len(n) % 4:
        n += 1
    lr = np.random.default_rng(s).random((n, n), dtype=np.float32)
    out = sess.run(None, {"input": lr[None, None]})[0][0, 0]
    full = ref.run(pad_replicate(imresize(lr, s), ref.radius))
    r, o = ref.radius, geo.offset
    a, b = max(o, r), min(o + out.shape[0], s * n - r)
    assert b - a > 20
    assert np.abs(out[a - o:b - o, a - o:b - o] - full[a:b, a:b]).max() <= 1e-5
