// Reference semantics of the integer micro-ops on constants: used by constant folding and by
// the back-end tests as the expected result.
#pragma once

#include <cstdint>

#include "accel/tcg/ir.h"

namespace tandem::tcg {

// Evaluates a pure integer op (unary ops ignore b). Returns false when the op is not an integer
// op this evaluator knows (float ops, memory, control flow).
bool eval_int_op(Opc opc, Type type, uint8_t aux, uint64_t a, uint64_t b, uint64_t* out);

}  // namespace tandem::tcg
