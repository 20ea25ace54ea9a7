"""Training code (needs the [train] extra): loss falls, resume is exact, exports match torch."""
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402

from srcnn.export import conv_stack_graph  # noqa: E402
from srcnn.training.model import SRCNN, SRCNNConfig, plain_weights  # noqa: E402
from srcnn.training.train import main as train_main  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Small synthetic training and validation folders (smooth shapes + texture)."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for sub, n in (("train", 4), ("val", 2)):
        (root / sub).mkdir()
        for k in range(n):
            yy, xx = np.mgrid[0:72, 0:80] / 10.0
            img = np.dstack([np.sin(xx * (k + 1)) * np.cos(yy), np.cos(xx + yy * (k + 2)), np.sin(xx * yy / 3)])
            img = (img * 0.4 + 0.5 + rng.normal(0, 0.02, img.shape)).clip(0, 1)
            Image.fromarray((img * 255).astype(np.uint8)).save(root / sub / f"{k}.png")
    return root


def args(data, runs, name, *extra):
    return ["--name", name, "--runs", str(runs), "--data", str(data / "train"), "--val", str(data / "val"),
            "--threads", "1", "--patch", "32", "--batch", "8", "--warmup", "5", "--ckpt-every", "10",
            "--val-every", "10", "--filters", "9-1-5", "--n1", "16", "--n2", "8", *extra]


def test_loss_falls(data, tmp_path):
    assert train_main(args(data, tmp_path, "fall", "--steps", "60", "--lr", "3e-3")) == 0
    rows = (tmp_path / "fall" / "log.csv").read_text().splitlines()[1:]
    losses = [float(r.split(",")[3]) for r in rows]
    assert losses[-1] < losses[0] * 0.8, losses
    assert (tmp_path / "fall" / "done").exists()


def test_resume_is_exact(data, tmp_path):
    full = args(data, tmp_path, "a", "--steps", "30")
    assert train_main(full) == 0
    # The same run, killed right after its checkpoint at step 10, then started again.
    partial = args(data, tmp_path / "p", "b", "--steps", "30")
    code = ("import sys; from srcnn.training import train\n"
            "orig = train.save_atomic\n"
            "def save(obj, path):\n"
            "    orig(obj, path)\n"
            "    if obj['step'] == 10: raise SystemExit(3)\n"
            "train.save_atomic = save\n"
            f"train.main({partial!r})\n")
    r = subprocess.run([sys.executable, "-c", code])
    assert r.returncode == 3
    assert train_main(partial) == 0
    ka = torch.load(tmp_path / "a" / "last.pt", weights_only=False)
    kb = torch.load(tmp_path / "p" / "b" / "last.pt", weights_only=False)
    assert ka["step"] == kb["step"] == 30
    for k in ka["ema"]:
        assert torch.equal(ka["ema"][k], kb["ema"][k]), k


@pytest.mark.parametrize("filters", ["9-1-5", "9-3-5", "9-5-5", "11-1-7"])
@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("channels", [1, 3])
def test_architectures_export_and_match_onnx(filters, residual, channels):
    ort = pytest.importorskip("onnxruntime")
    f1, f2, f3 = map(int, filters.split("-"))
    model = SRCNN(SRCNNConfig(f1, f2, f3, n1=12, n2=6, channels=channels, residual=residual))
    for p in model.parameters():
        torch.nn.init.normal_(p, 0, 0.1)
    model.eval()
    x = torch.rand(2, channels, 40, 33) * 1.2 - 0.1  # a little out of [0, 1], like bicubic ringing
    with torch.no_grad():
        ref = model(x).numpy()
    layers = [(w.numpy(), b.numpy()) for w, b in plain_weights(model)]
    onnx_model = conv_stack_graph(layers)
    sess = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"input": x.numpy()})[0]
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() < 1e-5
    # every parameter gets a gradient, no NaN
    model.train()
    model(x).pow(2).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("colour, extra", [("ycbcr", ["--loss-channels", "0"]), ("rgb", []), ("y", ["--stride", "14", "--optimizer", "sgd", "--paper-init", "--no-residual"])])
def test_paper_options_run(data, tmp_path, colour, extra):
    assert train_main(args(data, tmp_path, colour, "--steps", "10", "--colour", colour, "--patch", "33", *extra)) == 0
    assert (tmp_path / colour / "log.csv").read_text().count("\n") >= 2


def test_two_process_torchrun(data, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "srcnn.training.train", *args(data, tmp_path, "ddp", "--steps", "20")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    ck = torch.load(tmp_path / "ddp" / "last.pt", weights_only=False)
    assert ck["step"] == 20
    import json
    assert json.loads((tmp_path / "ddp" / "args.json").read_text())["world_size"] == 2


def _bank(data, **kw):
    from srcnn.training.data import PairBank
    return PairBank([str(data / "train")], [3], 24, **kw)


@pytest.mark.parametrize("colour", ["y", "rgb"])
def test_gather_sampler_equals_slicing(data, colour):
    """The GPU sampler's one gather cuts the same patches as slicing + np.rot90 + flip."""
    from srcnn.training.data import GatherSampler, draw
    bank = _bank(data, colour=colour)
    g = GatherSampler(bank, 3, "cpu")
    patch, shrink = 24, 6
    seen = set()
    for seed in range(4):
        x, y = g.batch(np.random.default_rng(seed), 12, patch, shrink)
        idx, r0, c0, k, flip = draw(bank, np.random.default_rng(seed), 3, 12, patch)
        for b in range(12):
            hr, lr = bank.pairs[3][idx[b]]
            xp = np.rot90(lr[r0[b]:r0[b] + patch, c0[b]:c0[b] + patch], k[b])
            yp = np.rot90(hr[r0[b] + shrink:r0[b] + patch - shrink, c0[b] + shrink:c0[b] + patch - shrink], k[b])
            if flip[b]:
                xp, yp = xp[:, ::-1], yp[:, ::-1]
            if colour == "y":
                xp, yp = xp[None], yp[None]
            else:
                xp, yp = np.moveaxis(xp, 2, 0), np.moveaxis(yp, 2, 0)
            assert np.array_equal(x[b].numpy(), xp)
            assert np.array_equal(y[b].numpy(), yp)
            seen.add((int(k[b]), int(flip[b])))
    assert len(seen) == 8  # every rotation/flip was exercised


def test_hr_scales_and_pad_borders(data):
    from srcnn.resize import imresize
    from srcnn.protocol import degrade, modcrop
    from srcnn.colour import rgb2y
    from srcnn.protocol import list_images, load_uint8
    plain = _bank(data)
    bank = _bank(data, hr_scales=(1.0, 0.7), pad=6)
    assert len(bank.pairs[3]) == 2 * len(plain.pairs[3])
    y0 = rgb2y(load_uint8(list_images(str(data / "train"))[0]))
    small = modcrop(imresize(y0, 0.7), 3)  # uint8 in, uint8 out, as MATLAB
    hr, lr = bank.pairs[3][len(plain.pairs[3])]
    assert hr.shape == (small.shape[0] + 12, small.shape[1] + 12)
    assert np.array_equal(hr[6:-6, 6:-6], (small / 255.0).astype(np.float32)) and np.isnan(hr[:6]).all()
    ref = np.pad(degrade(small / 255.0, 3), 6, mode="edge")
    np.testing.assert_allclose(lr, ref, atol=1e-6)
    # Patches reach into the padding, yet every target lies inside the image (no NaN).
    rng = np.random.default_rng(0)
    x, y = bank.batch(rng, 3, 64, 24, 6)
    assert not np.isnan(y).any() and not np.isnan(x).any()


def test_deadline_fixes_the_step_count(data, tmp_path):
    import json
    import time
    a = args(data, tmp_path, "dl", "--steps", "100000", "--deadline", str(time.time() + 15), "--calib-steps", "30",
             "--val-every", "100000", "--ckpt-every", "100000")
    t0 = time.time()
    assert train_main(a) == 0
    steps = json.loads((tmp_path / "dl" / "args.json").read_text())["args"]["steps"]
    assert 100 <= steps < 100000
    assert (tmp_path / "dl" / "done").read_text().strip() == str(steps)
    assert time.time() - t0 < 60


def test_gpu_stage_options_run_on_cpu(data, tmp_path):
    """The options the GPU stages use (gather sampler, bf16 autocast, shrunk copies, borders) run anywhere."""
    a = args(data, tmp_path, "gpuopts", "--steps", "12", "--sampler", "gather", "--amp", "bf16",
             "--hr-scales", "1,0.8", "--pad-borders", "--barrier", f"{tmp_path}/ready,1")
    assert train_main(a) == 0
    rows = (tmp_path / "gpuopts" / "log.csv").read_text().splitlines()[1:]
    assert rows and all(np.isfinite(float(r.split(",")[3])) for r in rows)


def test_reproduce_reruns_the_chain_exactly(data, tmp_path):
    from srcnn.training.reproduce import main as reproduce, stage_argv
    runs = tmp_path / "runs"
    assert train_main(args(data, runs, "first", "--steps", "6")) == 0
    assert train_main(args(data, runs, "second", "--steps", "6", "--init", str(runs / "first" / "last.pt"),
                           "--hr-scales", "1,0.8", "--pad-borders", "--lr", "3e-4")) == 0
    out = tmp_path / "again"
    assert reproduce(["second", "--runs", str(runs), "--out", str(out)]) == 0
    for name in ("first", "second"):
        ka = torch.load(runs / name / "last.pt", weights_only=False)
        kb = torch.load(out / name / "last.pt", weights_only=False)
        assert ka["step"] == kb["step"] == 6
        for k in ka["ema"]:
            assert torch.equal(ka["ema"][k], kb["ema"][k]), (name, k)
    # time-budget and carried-data options are replaced by what they recorded / the originals
    rec = {"steps": 4200, "deadline": 1.0, "barrier": "runs/.ready,8", "data": ".devdata/train_y",
           "val": ".devdata/Set5", "residual": False, "augment": False, "pad_borders": True}
    argv = stage_argv(rec, out, "prev")
    assert "--deadline" not in argv and "--barrier" not in argv and "--data" not in argv and "--val" not in argv
    assert argv[argv.index("--steps") + 1] == "4200" and "--no-residual" in argv and "--no-augment" in argv
    assert argv[argv.index("--init") + 1] == str(out / "prev" / "last.pt") and "--pad-borders" in argv


def test_y_folder_gives_the_same_pairs(data, tmp_path):
    """make_y_folder.py (how the data travelled to the GPU) changes nothing in the training pairs."""
    from srcnn.training.data import PairBank
    script = os.path.join(os.path.dirname(__file__), "..", "training", "recipes", "make_y_folder.py")
    subprocess.run([sys.executable, script, str(tmp_path / "y"), str(data / "train")], check=True)
    a = PairBank([str(data / "train")], [2, 3], 24)
    b = PairBank([str(tmp_path / "y")], [2, 3], 24)
    for s in (2, 3):
        assert len(a.pairs[s]) == len(b.pairs[s])
        for (h1, l1), (h2, l2) in zip(a.pairs[s], b.pairs[s]):
            assert np.array_equal(h1, h2) and np.array_equal(l1, l2)


def _kill(model, layer, units):
    """Make ``units`` of hidden ``layer`` dead: a bias far below any response."""
    with torch.no_grad():
        model.convs[layer].bias[units] = -1e3


def test_revive_keeps_the_function_and_wakes_dead_units():
    from srcnn.training.model import hidden_activity, revive_dead_units
    torch.manual_seed(0)
    model = SRCNN(SRCNNConfig(n1=16, n2=8))
    _kill(model, 0, [1, 5, 9])
    _kill(model, 1, [2, 6])
    x = torch.rand(4, 1, 40, 40)
    act = hidden_activity(model, x)
    assert [int((a == 0).sum()) for a in act] == [3, 2]
    before = model(x).detach()
    n = revive_dead_units(model, x, torch.Generator().manual_seed(0))
    assert n == [3, 2]
    # Outgoing weights of the revived units are 0: the same output, bit for bit.
    assert torch.equal(model(x), before)
    after = hidden_activity(model, x)
    for a, dead in zip(after, ([1, 5, 9], [2, 6])):
        assert (a[dead] > 0.2).all() and (a[dead] < 0.8).all(), a[dead]   # a bias at the median
    live2 = [u for u in range(8) if u not in (2, 6)]   # revived layer-2 units got a copy + noise
    assert not model.convs[1].weight[live2][:, [1, 5, 9]].any()
    assert not model.convs[2].weight[:, [2, 6]].any()
    # And training reaches them: the zeroed outgoing weights get a gradient.
    loss = (model(x) - before - 0.01).pow(2).mean()
    loss.backward()
    assert model.convs[2].weight.grad[:, [2, 6]].abs().sum() > 0


def test_revive_option_runs(data, tmp_path):
    assert train_main(args(data, tmp_path, "src", "--steps", "10")) == 0
    src = tmp_path / "src" / "last.pt"
    ck = torch.load(src, weights_only=False)
    ck["ema"]["conv1.bias"][:4] = -1e3        # four dead layer-1 units
    torch.save(ck, src)
    assert train_main(args(data, tmp_path, "rv", "--steps", "10", "--init", str(src), "--revive")) == 0
    out = torch.load(tmp_path / "rv" / "last.pt", weights_only=False)
    assert (out["ema"]["conv1.bias"][:4] > -100).all()


def test_patch_losses():
    from srcnn.training.train import LOGMSE_FLOOR, patch_loss
    y = torch.zeros(2, 1, 4, 4)
    pred = torch.zeros(2, 1, 4, 4)
    pred[0] += 0.01                        # a well-restored patch
    pred[1] += 0.1                         # a poorly restored one, 10x the error
    assert torch.isclose(patch_loss(pred, y, "mse"), torch.tensor((0.01 ** 2 + 0.1 ** 2) / 2))
    assert torch.isclose(patch_loss(pred, y, "l1"), torch.tensor(0.055))
    m = torch.tensor([0.01 ** 2, 0.1 ** 2])
    want = torch.log(m + LOGMSE_FLOOR).mean() * (m.mean() + LOGMSE_FLOOR)
    assert torch.isclose(patch_loss(pred, y, "logmse"), want)
    # mse: the poor patch pulls 10x harder per pixel; logmse (the mean of the patches' PSNR):
    # both patches' dB count alike, so the good patch gets the larger per-pixel gradient.
    grads = {}
    for kind in ("mse", "logmse"):
        p = pred.clone().requires_grad_(True)
        patch_loss(p, y, kind).backward()
        grads[kind] = p.grad.abs().mean((1, 2, 3))
    assert torch.isclose(grads["mse"][1] / grads["mse"][0], torch.tensor(10.0))
    # d/de log(e^2 + floor) = 2e / (e^2 + floor): 0.01 / (1e-4 + 1e-6) against 0.1 / (1e-2 + 1e-6)
    want = (0.01 / (0.01 ** 2 + LOGMSE_FLOOR)) / (0.1 / (0.1 ** 2 + LOGMSE_FLOOR))
    assert torch.isclose(grads["logmse"][0] / grads["logmse"][1], torch.tensor(want), rtol=1e-4)


@pytest.mark.parametrize("loss", ["l1", "logmse"])
def test_loss_options_run(data, tmp_path, loss):
    assert train_main(args(data, tmp_path, loss, "--steps", "20", "--lr", "3e-3", "--loss", loss)) == 0
    rows = (tmp_path / loss / "log.csv").read_text().splitlines()[1:]
    assert all(np.isfinite(float(r.split(",")[4])) for r in rows)


def test_regrow_restarts_the_least_used_units():
    from srcnn.training.model import revive_dead_units, unit_contributions
    torch.manual_seed(1)
    model = SRCNN(SRCNNConfig(n1=16, n2=8))
    x = torch.rand(4, 1, 40, 40)
    with torch.no_grad():
        model.conv3.weight[:, 3] *= 1e-3        # layer-2 unit 3 carries almost nothing
    c = unit_contributions(model, x, 1)
    assert int(torch.argmin(c)) == 3
    # its contribution is the output change when it is removed
    ref = model(x).detach()
    with torch.no_grad():
        w = model.conv3.weight[:, 3].clone()
        model.conv3.weight[:, 3] = 0
        assert torch.isclose((model(x) - ref).pow(2).mean(), c[3], rtol=1e-4)
        model.conv3.weight[:, 3] = w
    before = model(x).detach()
    assert revive_dead_units(model, x, torch.Generator().manual_seed(0), regrow=(0, 1))[1] == 1
    assert not model.conv3.weight[:, 3].any()
    assert (model(x) - before).abs().max() < 1e-3   # only its tiny share of the function is gone


def test_regrow_without_revive_is_an_error(capsys):
    """--regrow only acts inside --revive; alone it used to be ignored without a word."""
    with pytest.raises(SystemExit) as e:
        train_main(["--name", "r", "--regrow", "8,4", "--steps", "1"])
    assert e.value.code == 2 and "--revive" in capsys.readouterr().err


def test_swa_is_the_plain_mean_of_the_weights(data, tmp_path, monkeypatch):
    """--swa-start K: the exported weights are the mean of the model after steps K+1 .. end."""
    from srcnn.training import train
    seen = {}
    orig = train.save_atomic

    def save(obj, path):
        seen[obj["step"]] = {k: v.clone() for k, v in obj["model"].items()}
        orig(obj, path)
    monkeypatch.setattr(train, "save_atomic", save)
    a = args(data, tmp_path, "swa", "--steps", "12", "--swa-start", "8", "--schedule", "constant",
             "--lr", "3e-3")
    a[a.index("--ckpt-every") + 1] = "1"
    assert train_main(a) == 0
    ema = torch.load(tmp_path / "swa" / "last.pt", weights_only=False)["ema"]
    for k, v in ema.items():
        mean = sum(seen[s][k] for s in range(9, 13)) / 4
        assert torch.allclose(v, mean, atol=1e-6), k
        assert not torch.allclose(v, seen[12][k]), k  # an average, not the last weights
