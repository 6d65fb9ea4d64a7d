"""MEXC's published spot v3 WebSocket .proto files (mexcdevelop/websocket-proto @7b8ac7a6,
Apache-2.0, see LICENSE) and the modules protoc generated from them (grpcio-tools, protobuf 7):
imports rewritten to be package-relative. Regenerate with
``python -m grpc_tools.protoc -I. --python_out=. *.proto`` in this folder."""
