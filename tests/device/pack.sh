#!/usr/bin/env bash
# Builds what the GPU machine runs (it has no .NET SDK): the test assembly, published self-contained for linux-x64
# with its own entry point (tests/SoftmaxGen.Tests/DeviceRunner.cs), and beside it the programs it references, the
# GPU benchmark and the attention sample. Packed as one archive, publish/device.tar.xz (about 36 MB), to carry there.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf publish/device publish/device.tar.xz
dotnet publish tests/SoftmaxGen.Tests -c Release -r linux-x64 --self-contained -p:UseAppHost=true -o publish/device
tar -C publish -cf - device | xz -T0 -6 > publish/device.tar.xz
ls -l publish/device.tar.xz
