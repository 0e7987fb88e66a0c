#!/usr/bin/python3
"""The floor an MLLP receiver costs: Debian python3-hl7's asyncio MLLP server answering AA to
every message without storing anything. Used by bench/lab.ts for comparison.
Usage: /usr/bin/python3 bench/hl7_ack_server.py PORT"""
import asyncio
import sys

import hl7
from hl7.mllp import start_hl7_server


async def process(reader, writer):
    try:
        while not writer.is_closing():
            message = await reader.readmessage()
            writer.writemessage(message.create_ack())
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


async def main(port):
    async with await start_hl7_server(process, host="127.0.0.1", port=port, encoding="utf-8") as server:
        print("READY", flush=True)
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1])))
