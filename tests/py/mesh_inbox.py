"""Reads a MESH mailbox with NHS England's own client (mesh-client), as the receiving practice would.

Usage: mesh_inbox.py URL MAILBOX [--ack]
Prints one JSON line: [{"id", "subject", "workflow_id", "local_id", "sender", "body_b64"}, ...]
"""
import base64
import json
import sys
import warnings

from mesh_client import MeshClient

warnings.simplefilter("ignore")


def main(url, mailbox, ack):
    with MeshClient(url, mailbox, "password", shared_key=b"Banana", verify=False) as client:
        client.handshake()
        out = []
        for message_id in client.list_messages():
            message = client.retrieve_message(message_id)
            out.append({
                "id": message_id,
                "subject": message.subject,
                "workflow_id": message.workflow_id,
                "local_id": message.local_id,
                "sender": message.sender,
                "body_b64": base64.b64encode(message.read()).decode(),
            })
            if ack:
                message.acknowledge()
        print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--ack" in sys.argv[3:])
