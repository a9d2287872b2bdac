"""A second core for a batch of restarts: half of the parameter sets go to a worker process.

numpy releases the GIL inside each operation, but the E-step's loops consist of thousands of
small operations, and two threads hand the GIL to each other at every one of them; measured on
two cores, two threads were slower than one. A second process has an interpreter of its own.
The worker receives the fit's prepared observations once; at every EM iteration it receives the
parameters of the second half of the sets (a few hundred numbers), computes that half's E-step
sums while this process computes the first half, and sends them back (again a few hundred
numbers). Each half goes through exactly the operations it would go through alone, so the
results do not depend on the split, bit for bit (a test checks it).

The worker is a plain ``python`` child running :func:`serve`, started on first use and kept for
the session, with its BLAS limited to one thread (it is the second core). It is not forked from
the caller, which may have threads of its own, and it does not re-import the caller's main
module. Small batches stay in this process, where the round trip would cost more than it
saves; so does everything on a one-core machine, or wherever the worker cannot run.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import subprocess
import sys
import threading
import warnings

import numpy as np

#: Parameter sets times time steps below which an E-step stays in this process (a batch of ten
#: restarts on 5,000 steps, about 5 ms of work, is the smallest that gains).
MIN_WORK = 50_000

_lock = threading.Lock()
_state: dict = {"worker": None, "failed": False, "sent": None, "count": 0}
"""This process's side: the worker, and which data it holds under which token."""


def _forget_the_parents_worker() -> None:
    """In a child forked from this process: the worker and its pipes are the parent's."""
    global _lock
    _lock = threading.Lock()
    _state.update(worker=None, failed=False, sent=None)


os.register_at_fork(after_in_child=_forget_the_parents_worker)


def serve() -> None:
    """The worker's loop: read a request from stdin, answer on stdout, until stdin closes.

    Requests are ``("hold", token, data)``, which replaces the data kept, and
    ``("compute", token, function, params, errors)``, answered with ``function(data, params)``
    computed under numpy error state ``errors`` (None if the data kept is not ``token``'s).
    Answers are ``("ok", value, warnings)`` or ``("error", exception, warnings)``, with the
    warnings issued meanwhile as (message, category) pairs.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are the caller's; the worker ends when stdin closes
    requests, answers = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, not into the answers
    held = {}
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if request[0] == "hold":
                    held = {request[1]: request[2]}
                    status, value = "ok", None
                else:
                    _, token, function, params, errors = request
                    with np.errstate(**errors):
                        status, value = "ok", function(held[token], params) if token in held else None
            except Exception as error:  # sent back and raised in the caller
                status, value = "error", error
        raised = [(str(warning.message), warning.category) for warning in caught]
        pickle.dump((status, value, raised), answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


def _start_worker() -> subprocess.Popen | None:
    if (os.cpu_count() or 1) < 2:
        return None
    environment = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    environment["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    try:
        worker = subprocess.Popen(
            [sys.executable, "-c", "from hmmcore.second_process import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment, start_new_session=True,
        )
    except OSError:
        return None
    atexit.register(_stop, worker)
    return worker


def _stop(worker: subprocess.Popen) -> None:
    try:
        worker.stdin.close()
        worker.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        worker.kill()
    worker.stdout.close()


def _send(worker: subprocess.Popen, request) -> None:
    pickle.dump(request, worker.stdin, protocol=pickle.HIGHEST_PROTOCOL)
    worker.stdin.flush()


def _receive(worker: subprocess.Popen):
    """The worker's answer: (status, value, warnings)."""
    return pickle.load(worker.stdout)


def _unpack(answer):
    status, value, raised = answer
    for message, category in raised:  # warnings issued in the worker are issued here
        warnings.warn(message, category, stacklevel=4)
    if status == "error":
        raise value
    return value


def _discard(failed: bool) -> None:
    """Drop the worker (its answers may be out of step with the requests); start a new one next
    time unless it ``failed``."""
    worker = _state["worker"]
    if worker is not None:
        worker.kill()
        _stop(worker)
    _state.update(worker=None, failed=failed, sent=None)


def _worker_holding(data):
    """The worker, made to hold ``data``, and the token of it; (None, None) if there is no worker."""
    if _state["worker"] is None and not _state["failed"]:
        _state["worker"] = _start_worker()
        _state["failed"] = _state["worker"] is None
    worker = _state["worker"]
    if worker is None:
        return None, None
    if _state["sent"] is not None and _state["sent"][0] is data:
        return worker, _state["sent"][1]
    _state["sent"] = None
    _state["count"] += 1
    token = _state["count"]
    _send(worker, ("hold", token, data))
    _unpack(_receive(worker))
    _state["sent"] = (data, token)
    return worker, token


def in_two_processes(function, data, params, n_steps: int) -> tuple:
    """``function(data, params)``, whose results are arrays with the parameter-set axis first,
    computed for the two halves of the sets in this process and in the worker when the batch is
    large enough (module docstring). ``params`` is a named tuple of arrays with that axis first,
    ``function`` a module-level function (it is sent by name)."""
    n_sets = params[0].shape[0]
    if n_sets < 2 or n_sets * n_steps < MIN_WORK:
        return function(data, params)
    first, second = (type(params)(*(value[part] for value in params)) for part in (np.s_[: n_sets // 2], np.s_[n_sets // 2 :]))
    with _lock:
        in_step = True  # False while an answer is owed: an interruption then leaves the pipe out of step
        try:
            worker, token = _worker_holding(data)
            if worker is None:
                return function(data, params)
            _send(worker, ("compute", token, function, second, np.geterr()))
            in_step = False
            try:
                ours = function(data, first)
            finally:
                answer = _receive(worker)  # read even if our half failed, to keep the pipe in step
                in_step = True
            theirs = _unpack(answer)
        except (OSError, EOFError, pickle.UnpicklingError):  # the worker died: carry on without it
            _discard(failed=True)
            return function(data, params)
        except BaseException:
            if not in_step or _state["sent"] is None:
                _discard(failed=False)
            raise
        if theirs is None:  # the worker no longer held our data
            theirs = function(data, second)
    return tuple(np.concatenate(pair) for pair in zip(ours, theirs))
