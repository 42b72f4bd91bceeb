"""``LBFGS``: limited-memory BFGS with an optional strong-Wolfe line search."""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from convnp.autograd.grad_mode import enable_grad, no_grad
from convnp.optim.optimizer import Optimizer, _check
from convnp.tensor import Tensor


def _unwrap(v):
    """A loaded state value (convnp Tensor, torch tensor, list of them) as NumPy data."""
    if isinstance(v, list):
        return [_unwrap(x) for x in v]
    if isinstance(v, Tensor):
        v = v.array
    elif hasattr(v, "detach") and hasattr(v, "numpy"):  # a torch tensor (torch not imported)
        v = v.detach().cpu().numpy()
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return v[()]
    return v


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to ``bounds``
    (the interval's midpoint when the cubic has no real minimiser)."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = np.sqrt(d2_square)
    if x1 <= x2:
        pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(pos, lo), hi)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Line search along ``d`` from step ``t`` until the strong Wolfe conditions hold:
    a bracketing phase (grow ``t``), then a zoom phase (cubic interpolation inside the bracket).
    ``evaluate(t)`` returns (loss, flat gradient) at ``x + t d``. Returns
    (loss, gradient, t, number of evaluations)."""
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    # bracketing: find an interval that contains a point satisfying the conditions
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        t_prev, t = t, _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                      bounds=(min_step, max_step))
        f_prev, g_prev, gtd_prev = f_new, g_new.copy(), gtd_new
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket until a point satisfies the conditions
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], bracket_f[0], bracket_gtd[0],
                           bracket[1], bracket_f[1], bracket_gtd[1])
        # keep the trial away from the bracket's ends, or the search can stall there
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) \
                    else min(bracket) + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new.copy(), gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new.copy(), gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


# what LBFGS keeps between steps, in torch's state keys
_MEMORY = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss")


class LBFGS(Optimizer):
    r"""L-BFGS, PyTorch's algorithm (after minFunc): each ``step(closure)`` runs up to
    ``max_iter`` quasi-Newton iterations on all parameters flattened into one vector.

    Per iteration, with flat gradient :math:`g`: the direction :math:`d = -H g` comes from the
    two-loop recursion over the last ``history_size`` pairs :math:`(s, y)` (``H`` starts as
    :math:`(y^T s / y^T y) I`); the step :math:`t` is ``lr`` (the first iteration uses
    ``min(1, 1 / sum|g|) * lr``), or the strong-Wolfe line search's result. It stops on
    ``max|g| <= tolerance_grad``, on changes below ``tolerance_change``, or after ``max_iter``
    iterations / ``max_eval`` evaluations.

    Args:
        params: parameters (a single group: LBFGS has no per-group options).
        lr: learning rate (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure evaluations per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: first-order optimality tolerance (default 1e-7).
        tolerance_change: tolerance on changes of the loss and parameters (default 1e-9).
        history_size: number of (s, y) pairs kept (default 100).
        line_search_fn: ``'strong_wolfe'`` or None (default None).

    ``step(closure)`` needs a closure that clears the gradients, computes the loss, calls
    ``backward()`` and returns the loss; it returns the first loss it evaluated.

    Example::

        >>> opt = convnp.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); return loss
        >>> opt.step(closure)
    """

    def __init__(self, params: Iterable, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{line_search_fn!r}")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self) -> np.ndarray:
        return np.concatenate([np.zeros(p.array.size, p.array.dtype) if p.grad is None
                               else p.grad.array.reshape(-1) for p in self._params])

    def _add(self, t, d: np.ndarray) -> None:
        """x += t * d, written into each parameter's array in place."""
        offset = 0
        for p in self._params:
            n = p.array.size
            p.array += t * d[offset:offset + n].reshape(p.array.shape)
            offset += n

    def step(self, closure: Callable):
        """Run up to ``max_iter`` iterations; returns the loss of the first ``closure()`` call."""
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that re-evaluates the model and "
                               "returns the loss (see the class docstring)")
        group = self.param_groups[0]
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]

        def evaluate():
            with enable_grad():
                return closure()

        with no_grad():
            state = self.state.setdefault(self._params[0], {})
            state.setdefault("func_evals", 0)
            state.setdefault("n_iter", 0)
            orig_loss = evaluate()
            loss = float(orig_loss)
            evals = 1
            state["func_evals"] += 1
            g = self._flat_grad()
            if np.abs(g).max() <= tol_grad:
                return orig_loss
            # state loaded from a state_dict (convnp's or torch's) holds tensors: unwrap them
            memory = {k: _unwrap(state.get(k)) for k in _MEMORY}
            n_iter = 0
            while n_iter < max_iter:
                n_iter += 1
                state["n_iter"] += 1
                d = memory["d"] = self._direction(memory, g, state["n_iter"] == 1)
                memory["prev_flat_grad"], memory["prev_loss"] = g.copy(), loss
                t = memory["t"] = (min(1.0, 1.0 / np.abs(g).sum()) * group["lr"]
                                   if state["n_iter"] == 1 else group["lr"])
                gtd = g.dot(d)
                if gtd > -tol_change:  # not a descent direction
                    break
                loss, g, t, ls_evals, opt_cond = self._move(evaluate, d, t, loss, g, gtd,
                                                            max_eval - evals, n_iter == max_iter)
                memory["t"] = t
                evals += ls_evals
                state["func_evals"] += ls_evals
                if (n_iter == max_iter or evals >= max_eval or opt_cond
                        or np.abs(d * t).max() <= tol_change
                        or abs(loss - memory["prev_loss"]) < tol_change):
                    break
            state.update(memory)
        return orig_loss

    def _direction(self, memory: dict, g: np.ndarray, first: bool) -> np.ndarray:
        """The quasi-Newton direction ``d = -H g`` by the two-loop recursion, after adding the
        last step's pair (s, y) to the history when its curvature is positive. The first
        iteration starts the history afresh and returns ``-g``."""
        if first:
            memory.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
            return -g
        old_dirs, old_stps, ro = memory["old_dirs"], memory["old_stps"], memory["ro"]
        y = g - memory["prev_flat_grad"]
        s = memory["d"] * memory["t"]
        ys = y.dot(s)
        if ys > 1e-10:  # keep the pair only when the curvature is positive
            if len(old_dirs) == self.param_groups[0]["history_size"]:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            memory["H_diag"] = ys / y.dot(y)
        al = [None] * len(old_dirs)
        q = -g
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q = q - al[i] * old_dirs[i]
        d = r = q * memory["H_diag"]
        for i in range(len(old_dirs)):
            be_i = old_dirs[i].dot(r) * ro[i]
            r += (al[i] - be_i) * old_stps[i]
        return d

    def _move(self, evaluate: Callable, d: np.ndarray, t: float, loss: float, g: np.ndarray,
              gtd: float, evals_left: int, last: bool) -> tuple:
        """Move the parameters along ``d``: by the strong-Wolfe search's step, or by ``t``
        (evaluated there unless this is the ``last`` iteration). Returns (loss, flat gradient,
        step, evaluations made, whether the gradient is below ``tolerance_grad``)."""
        group = self.param_groups[0]
        if group["line_search_fn"] == "strong_wolfe":
            x0 = [p.array.copy() for p in self._params]

            def along(step):
                self._add(step, d)
                value = float(evaluate())
                grad = self._flat_grad()
                for p, a in zip(self._params, x0):
                    p.array[...] = a
                return value, grad

            loss, g, t, ls_evals = _strong_wolfe(along, t, d, loss, g, gtd,
                                                 tolerance_change=group["tolerance_change"],
                                                 max_ls=evals_left)
            self._add(t, d)
            return loss, g, t, ls_evals, np.abs(g).max() <= group["tolerance_grad"]
        self._add(t, d)
        if last:
            return loss, g, t, 0, False
        loss = float(evaluate())
        g = self._flat_grad()
        return loss, g, t, 1, np.abs(g).max() <= group["tolerance_grad"]
