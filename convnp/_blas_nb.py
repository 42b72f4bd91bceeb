"""Numba intrinsics that call a C function at an address given at run time (imported only when a
kernel compiles, so ``import convnp`` does not load Numba).

Kernels that call BLAS take the function addresses as plain integer arguments (convnp._blas
looks them up in NumPy's OpenBLAS) instead of closing over ctypes pointers: a compiled kernel
then depends on nothing but its arguments and caches on disk like every other convnp kernel.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


@intrinsic
def gemm_call(typingctx, addr, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """``cblas_?gemm(RowMajor, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)``
    of a 64-bit-integer CBLAS at ``addr``; a/b/c are byte addresses, the real type (float32 or
    float64, which must match the function) is alpha's."""
    real = alpha
    if real not in (types.float32, types.float64) or beta != real:
        return None
    i64 = types.int64
    sig = types.void(i64, i64, i64, i64, i64, i64, real, i64, i64, i64, i64, real, i64, i64)

    def codegen(context, builder, signature, args):
        addr, ta, tb, m, n, k, al, pa, lda, pb, ldb, be, pc, ldc = args
        fl = context.get_value_type(real)
        ptr = fl.as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [_I32, _I32, _I32, _I64, _I64, _I64, fl, ptr, _I64,
                                               ptr, _I64, fl, ptr, _I64])
        fn = builder.inttoptr(addr, fnty.as_pointer())
        builder.call(fn, [ir.Constant(_I32, 101), builder.trunc(ta, _I32),
                          builder.trunc(tb, _I32), m, n, k, al, builder.inttoptr(pa, ptr), lda,
                          builder.inttoptr(pb, ptr), ldb, be, builder.inttoptr(pc, ptr), ldc])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def int_call(typingctx, addr, value):
    """``int f(int value)`` at ``addr`` (OpenBLAS's ``openblas_set_num_threads_local``)."""
    if not isinstance(addr, types.Integer) or not isinstance(value, types.Integer):
        return None
    sig = types.int64(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        a, v = args
        fnty = ir.FunctionType(_I32, [_I32])
        fn = builder.inttoptr(a, fnty.as_pointer())
        res = builder.call(fn, [builder.trunc(v, _I32)])
        return builder.sext(res, _I64)

    return sig, codegen
