#!/usr/bin/env python3
"""Writes the one-node ONNX models the `ort` and `attention` benchmark modes run in ONNX Runtime beside SoftmaxGen.

Needs Debian's python3-onnx (apt-get install python3-onnx); the models are committed, so neither the build, the
tests nor CI need Python. Every dimension is dynamic: one model serves every shape of its rank (the attention models fix
only the number of heads, an attribute of com.microsoft.MultiHeadAttention).

    python3 benchmarks/SoftmaxGen.Benchmarks/Models/make_models.py
"""
import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = {"float": TensorProto.FLOAT, "half": TensorProto.FLOAT16, "double": TensorProto.DOUBLE}


def one_node(op, element, rank, axis):
    dims = [f"d{i}" for i in range(rank)]
    x = helper.make_tensor_value_info("x", TYPES[element], dims)
    y = helper.make_tensor_value_info("y", TYPES[element], dims)
    node = helper.make_node(op, ["x"], ["y"], axis=axis)
    graph = helper.make_graph([node], f"{op}_{element}", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="SoftmaxGen benchmarks")
    model.ir_version = 8
    onnx.checker.check_model(model)
    name = f"{op.lower()}_{element}_rank{rank}_axis{axis}.onnx"
    onnx.save(model, os.path.join(HERE, name))
    print(name)


for op in ("Softmax", "LogSoftmax"):
    for element in TYPES:
        one_node(op, element, 2, 1)
    one_node(op, "float", 3, 1)


def multi_head_attention(heads):
    """com.microsoft.MultiHeadAttention (ONNX Runtime's contrib op): query [batch, seq, heads * headDim], key and value
    [batch, kv_seq, heads * headDim], no mask, scale 1/sqrt(headDim) (the op's default)."""
    query = helper.make_tensor_value_info("query", TensorProto.FLOAT, ["batch", "seq", "hidden"])
    key = helper.make_tensor_value_info("key", TensorProto.FLOAT, ["batch", "kv_seq", "hidden"])
    value = helper.make_tensor_value_info("value", TensorProto.FLOAT, ["batch", "kv_seq", "hidden"])
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", "seq", "hidden"])
    node = helper.make_node("MultiHeadAttention", ["query", "key", "value"], ["output"], domain="com.microsoft", num_heads=heads)
    graph = helper.make_graph([node], "MultiHeadAttention_float", [query, key, value], [output])
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)],
        producer_name="SoftmaxGen benchmarks")
    model.ir_version = 8
    onnx.checker.check_model(model)
    name = f"multiheadattention_float_heads{heads}.onnx"
    onnx.save(model, os.path.join(HERE, name))
    print(name)


def attention_23(causal):
    """ONNX opset-23 Attention: Q [batch, heads, seq, headDim], K and V [batch, kv_heads, kv_seq, headDim], no mask,
    scale 1/sqrt(headDim) (the op's default). onnx 1.12 predates opset 23, so the model is not checked here; ONNX
    Runtime checks it when it loads it."""
    q = helper.make_tensor_value_info("Q", TensorProto.FLOAT, ["batch", "heads", "seq", "head_dim"])
    k = helper.make_tensor_value_info("K", TensorProto.FLOAT, ["batch", "kv_heads", "kv_seq", "head_dim"])
    v = helper.make_tensor_value_info("V", TensorProto.FLOAT, ["batch", "kv_heads", "kv_seq", "head_dim"])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", "heads", "seq", "head_dim"])
    node = helper.make_node("Attention", ["Q", "K", "V"], ["Y"], is_causal=1 if causal else 0)
    graph = helper.make_graph([node], "Attention_float", [q, k, v], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)], producer_name="SoftmaxGen benchmarks")
    model.ir_version = 10
    name = f"attention23_float{'_causal' if causal else ''}.onnx"
    onnx.save(model, os.path.join(HERE, name))
    print(name)


multi_head_attention(8)
attention_23(causal=True)
