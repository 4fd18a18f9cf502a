#!/usr/bin/env bash
# Regenerates spec/vectors/*.bin and expected.json from tests/StreamKit.Tests/Vectors/VectorCatalog.cs.
cd "$(dirname "$0")/../.." && STREAMKIT_WRITE_VECTORS=1 dotnet test tests/StreamKit.Tests --filter "FullyQualifiedName~Vectors.VectorTests.FilesOnDiskMatchTheGenerator"
