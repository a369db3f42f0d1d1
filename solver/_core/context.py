"""One numba StructRef holding every array of the search: the kernels take it as one argument.

Passing the problem, solution and scratch arrays as (named) tuples made every kernel call
carry some 170 machine arguments, and numba's compile time grew with that many times over; a
StructRef is one pointer. The numpy arrays are shared, not copied: Python reads the results
in the namedtuples of ``arrays`` that hold the same buffers.
"""

from __future__ import annotations

from typing import Any

from numba import njit, types
from numba.experimental import structref

from solver._core.arrays import Inst, Sol, Work


@structref.register
class ContextType(types.StructRef):
    """The numba type of a search context."""

    def preprocess_fields(self, fields: Any) -> tuple:
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class Context(structref.StructRefProxy):
    """A search context seen from Python (opaque: read the arrays through the namedtuples)."""


structref.define_boxing(ContextType, Context)

_I1 = types.int64[::1]
_I2 = types.int64[:, ::1]
_I3 = types.int64[:, :, ::1]
_FIELD_TYPES = {
    "prm": _I1,
    "mat": types.int64[:, :, :, ::1],
    "nd": _I2,
    "dem": _I2,
    "vh": _I2,
    "cap": _I2,
    "ty": _I2,
    "near": _I2,
    "node": _I2,
    "rt": _I2,
    "cl": _I2,
    "ps": _I3,
    "cuml": _I3,
    "un": _I1,
    "misc": _I1,
    "pcs": _I3,
    "buf": _I2,
    "kv": _I2,
    "cv": _I2,
    "fv": types.float64[:, ::1],
    "rv": _I2,
    "snap": _I3,
    "wst": _I1,
    "pen": _I1,
}
FIELDS = (*Inst._fields, *Sol._fields, *Work._fields)
assert set(FIELDS) == set(_FIELD_TYPES)
assert len(FIELDS) == len(_FIELD_TYPES)
context_type = ContextType([(name, _FIELD_TYPES[name]) for name in FIELDS])


@njit(cache=True)
def _new_context(  # type: ignore[no-untyped-def]
    prm, mat, nd, dem, vh, cap, ty, near,
    node, rt, cl, ps, cuml, un, misc,
    pcs, buf, kv, cv, fv, rv, snap, wst, pen,
):  # fmt: skip
    ctx = structref.new(context_type)  # type: ignore[call-arg, var-annotated]
    ctx.prm, ctx.mat, ctx.nd, ctx.dem = prm, mat, nd, dem
    ctx.vh, ctx.cap, ctx.ty, ctx.near = vh, cap, ty, near
    ctx.node, ctx.rt, ctx.cl, ctx.ps, ctx.cuml, ctx.un, ctx.misc = (
        node, rt, cl, ps, cuml, un, misc,
    )  # fmt: skip
    ctx.pcs, ctx.buf, ctx.kv, ctx.cv, ctx.fv = pcs, buf, kv, cv, fv
    ctx.rv, ctx.snap, ctx.wst, ctx.pen = rv, snap, wst, pen
    return ctx


def new_context(inst: Inst, sol: Sol, wk: Work) -> Context:
    """The context over these arrays (shared with the namedtuples, not copied)."""
    values = {**inst._asdict(), **sol._asdict(), **wk._asdict()}
    context: Context = _new_context(*(values[name] for name in FIELDS))
    return context
