"""Bad input raises vknorm.Error with vknorm's text naming what is wrong; nothing crashes."""
import numpy as np
import pytest

import vknorm


def x_of(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def test_error_carries_status_and_detail(device):
    with pytest.raises(vknorm.Error) as e:
        vknorm.Norm("bogus", 4, device=device)
    assert e.value.status == "VKN_ERR_ARG"
    assert "bogus" in str(e.value) and "cnx" in str(e.value)      # vknorm's list of valid names
    with pytest.raises(vknorm.Error) as e:
        vknorm.Norm("gn", 6, device=device, groups=4)                # checked by vkn_norm_opts_check
    assert "groups" in e.value.detail
    with pytest.raises(vknorm.Error, match="eps"):
        vknorm.Norm("bn", 6, device=device, eps=-1)
    with pytest.raises(vknorm.Error, match="channels"):
        vknorm.Norm("bn", 0, device=device)
    with pytest.raises(vknorm.Error, match="infer"):
        vknorm.Norm("bn", 3, device=device, infer="sometimes")


def test_bad_arrays(device):
    nm = vknorm.Norm("bn", 4, device=device)
    with pytest.raises(vknorm.Error, match="dtype float64"):
        nm.forward(x_of(3, 4).astype(np.float64))
    with pytest.raises(vknorm.Error, match="dtype float16"):
        nm.forward(x_of(3, 4).astype(np.float16))
    with pytest.raises(vknorm.Error, match="numpy.ndarray"):
        nm.forward([[1.0, 2.0, 3.0, 4.0]] * 3)
    with pytest.raises(vknorm.Error, match="C-contiguous"):
        nm.forward(x_of(4, 3).T)                                     # [3, 4] view, strides reversed
    with pytest.raises(vknorm.Error, match="C-contiguous"):
        nm.forward(x_of(6, 4)[::2])
    with pytest.raises(vknorm.Error, match="channels=4"):
        nm.forward(x_of(3, 5))
    with pytest.raises(vknorm.Error, match="rank 1"):
        nm.forward(x_of(12))
    with pytest.raises(vknorm.Error, match="rank 5"):
        nm.forward(x_of(2, 4, 1, 1, 1))
    with pytest.raises(vknorm.Error, match="empty"):
        nm.forward(x_of(0, 4))
    with pytest.raises(vknorm.Error, match="no forward"):
        nm.backward(x_of(3, 4))
    nm.forward(x_of(3, 4))
    with pytest.raises(vknorm.Error, match="dy has shape"):
        nm.backward(x_of(3, 5))
    with pytest.raises(vknorm.Error, match="dtype int32"):
        nm.backward(np.zeros((3, 4), np.int32))
    assert set(nm.backward(x_of(3, 4))) == {"dx", "dgamma", "dbeta"}
    out = np.empty((3, 4), np.float32)
    y = nm.forward(x_of(3, 4), out=out)
    assert y is out
    with pytest.raises(vknorm.Error, match="out has shape"):
        nm.forward(x_of(3, 4), out=np.empty((4, 3), np.float32))
    with pytest.raises(vknorm.Error, match="out: dtype"):
        nm.forward(x_of(3, 4), out=np.empty((3, 4)))


def test_device_refusals_become_errors(device):
    """What the library itself refuses (not the package's checks) arrives as vknorm.Error."""
    nm = vknorm.Norm("bn", 3, device=device)
    with pytest.raises(vknorm.Error) as e:
        nm.forward(x_of(1, 3))                    # one value per channel: no unbiased running variance
    assert e.value.status in ("VKN_ERR_SHAPE", "VKN_ERR_ARG")
    y = nm.forward(x_of(2, 3))                    # and the layer still works
    assert np.isfinite(y).all()


def test_ids(device):
    nm = vknorm.Norm("cn", 3, device=device, contexts=2)
    x = x_of(4, 3)
    with pytest.raises(vknorm.Error, match="ctx"):
        nm.forward(x)
    with pytest.raises(vknorm.Error, match=r"ctx\[2\]=2 is outside 0..1"):
        nm.forward(x, np.array([0, 1, 2, 0], np.int32))
    with pytest.raises(vknorm.Error, match=r"ctx\[0\]=-1"):
        nm.forward(x, np.array([-1, 1, 1, 0], np.int32))
    with pytest.raises(vknorm.Error, match="dtype int64"):
        nm.forward(x, np.array([0, 1, 1, 0], np.int64))
    with pytest.raises(vknorm.Error, match="3 ids for N=4"):
        nm.forward(x, np.array([0, 1, 1], np.int32))
    assert nm.forward(x, np.array([0, 1, 1, 0], np.int32)).shape == (4, 3)


def test_slots(device):
    nm = vknorm.Norm("cn", 3, device=device, contexts=2, priors=[0.25, 0.75])
    assert nm.slot_names == ["gamma", "beta", "running_mean", "running_var", "priors"]
    np.testing.assert_array_equal(nm["priors"], np.array([0.25, 0.75], np.float32))
    g = np.arange(6, dtype=np.float32).reshape(2, 3)
    nm["gamma"] = g
    np.testing.assert_array_equal(nm["gamma"], g)                  # bit-exact round trip
    with pytest.raises(vknorm.Error, match="no slot 'weight'"):
        nm["weight"]
    with pytest.raises(vknorm.Error, match="shape"):
        nm["gamma"] = np.zeros((3, 2, 1), np.float32)
    with pytest.raises(vknorm.Error, match="dtype"):
        nm["gamma"] = np.zeros((2, 3))
    with pytest.raises(vknorm.Error, match="missing"):
        nm.load_state_dict({"gamma": g})


def test_closed_device():
    d = vknorm.Device(validate=True)
    nm = vknorm.Norm("bn", 4, device=d)
    nm.forward(x_of(3, 4))
    d.close()
    d.close()                                          # idempotent
    assert d.closed
    for call in (lambda: nm.forward(x_of(3, 4)), lambda: nm.backward(x_of(3, 4)), lambda: nm["gamma"],
                 lambda: nm.state_dict(), lambda: d.line, lambda: vknorm.Norm("bn", 4, device=d)):
        with pytest.raises(vknorm.Error, match="closed"):
            call()
    del nm                                             # no double free after the device went


def test_device_facts(device):
    assert "vknorm device:" in device.line
    info = device.info
    assert info["path"] in ("cpu", "gpu") and info["name"]
    assert vknorm.list_devices() and vknorm.version()
    with pytest.raises(vknorm.Error, match="path"):
        vknorm.Device(path="tpu")
    with pytest.raises(vknorm.Error) as e:
        vknorm.Device(device="no-such-device-name")
    assert e.value.status == "VKN_ERR_BAD_DEVICE"
