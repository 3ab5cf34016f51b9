#!/usr/bin/env python3
"""Writes the one-node ONNX models the `ort` benchmark mode runs in ONNX Runtime beside SoftmaxGen.

Needs Debian's python3-onnx (apt-get install python3-onnx); the models are committed, so neither the build, the
tests nor CI need Python. Every dimension is dynamic: one model serves every shape of its rank.

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
