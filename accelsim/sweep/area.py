"""``area_mm2_proxy``: a first-order silicon-area estimate, for ranking design points only.

It is a **proxy**, not a layout or synthesis result: it counts the on-chip components an
``Architecture`` describes and multiplies each by a per-unit area at a 45 nm node, the node of
the presets' energies. Wires, the NoC, control, clock tree, pads and DRAM are left out, so
absolute values are low; differences between points of one sweep are what it is for.

    area = sum over chunks and systolic arrays of  PEs x (multiplier(bits) + 32-bit adder)
         + sum over chunks and vector arrays of    lanes x sum over its functions of area(fn)
         + sum over chunks of                      register-file bytes x 8 x flip-flop
         + sum of                                  SRAM KiB x area per KiB

Constants (um^2, 45 nm):

* multiplier: 282 for 8 x 8 bits (Horowitz, "Computing's energy problem", ISSCC 2014, area
  table), scaled by (bits / 8)^2 for other operand widths (an array multiplier grows with the
  square of its width);
* adder: 137 for 32 bits (same table): the PE's accumulator and the fixed-point vector ops;
* 32-bit multiplier 3,495 (same table); FP16 add 1,360 + FP16 multiply 1,640 (same table) =
  3,000 per FP16 function unit (exp, softmax, layernorm, gelu ...), an FMA-class datapath;
* divider / square root: 32-stage restoring pipeline, 32 x (adder 137 + 32 flip-flops) = 9,000;
* flip-flop: 4.5 per bit (a 45 nm standard-cell DFF, e.g. NanGate 45 nm DFF_X1);
* SRAM: 6,000 per KiB = 8,192 bit cells of 0.346 um^2 (Intel 45 nm 6T cell, Mistry et al.,
  IEDM 2007) at about 50% array efficiency (decoders, sense amplifiers, banking overhead).
"""

from __future__ import annotations

from arch.schema import Architecture, RegisterFile, Sram, SystolicArray, VectorArray

UM2_MULT8, UM2_ADD32, UM2_MULT32 = 282.0, 137.0, 3495.0
UM2_FP16_UNIT = 1360.0 + 1640.0
UM2_DIVIDER = 9000.0
UM2_FLIPFLOP = 4.5
UM2_SRAM_PER_KIB = 6000.0

#: Area of one lane's datapath for each vector function, um^2.
FN_UM2: dict[str, float] = {
    **dict.fromkeys(("add", "sub", "neg", "sum", "mean", "max", "where", "clamp", "round",
                     "quantize", "threshold", "relu"), UM2_ADD32),
    **dict.fromkeys(("mul", "pow"), UM2_MULT32),
    **dict.fromkeys(("div", "sqrt", "rsqrt"), UM2_DIVIDER),
    **dict.fromkeys(("exp", "softmax", "layernorm", "gelu", "elu", "silu", "tanh", "sigmoid"),
                    UM2_FP16_UNIT),
}


def pe_um2(bits: int) -> float:
    """One PE: a ``bits`` x ``bits`` multiplier and a 32-bit accumulating adder."""
    return UM2_MULT8 * (bits / 8) ** 2 + UM2_ADD32


def area_breakdown_mm2(arch: Architecture) -> dict[str, float]:
    """``{"pe": ..., "vector": ..., "regfile": ..., "sram": ...}`` in mm^2 (see the module doc)."""
    pe = vector = regfile = 0.0
    for name, unit in arch.chunks.units.items():
        n = len(arch.chunks.holders(name))  # instances: the chunks that hold the unit
        if isinstance(unit, SystolicArray):
            pe += n * unit.pes * pe_um2(unit.operand_bits or arch.precision.operand_bits)
        elif isinstance(unit, VectorArray):
            vector += n * unit.lanes * sum(FN_UM2.get(fn, UM2_FP16_UNIT) for fn in unit.fns)
        elif isinstance(unit, RegisterFile):
            regfile += n * unit.capacity_bytes * 8 * UM2_FLIPFLOP
    sram = sum(m.capacity_kib * UM2_SRAM_PER_KIB * arch.instances(n)
               for n, m in arch.memories.items() if isinstance(m, Sram))
    return {"pe": pe / 1e6, "vector": vector / 1e6, "regfile": regfile / 1e6, "sram": sram / 1e6}


def area_mm2_proxy(arch: Architecture) -> float:
    """The total of ``area_breakdown_mm2``, rounded to 1e-6 mm^2 (1 um^2)."""
    return round(sum(area_breakdown_mm2(arch).values()), 6)
