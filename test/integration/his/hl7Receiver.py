"""An independent HIS for the ADT^A04 interop test: Debian's python3-hl7 (python-hl7 0.4.x)
MLLP server parses each message with hl7.parse, prints the fields it read as one JSON line,
and answers with the library's own create_ack('AA'). Prints PORT <n> once listening."""
import asyncio
import json
import sys

import hl7
import hl7.mllp


async def handle(reader, writer):
    try:
        while not writer.is_closing():
            message = await reader.readmessage()
            pid = message.segment("PID")
            pv1 = message.segment("PV1")
            print(json.dumps({
                "type": str(message.segment("MSH")[9]),
                "controlId": str(message.segment("MSH")[10]),
                "cccd": str(pid[3][0][0]),
                "idType": str(pid[3][0][4]),
                "family": str(pid[5][0][0]),
                "given": str(pid[5][0][1]),
                "birth": str(pid[7]),
                "sex": str(pid[8]),
                "ticket": str(pv1[19]),
            }, ensure_ascii=False), flush=True)
            writer.writemessage(message.create_ack("AA"))
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


async def main():
    async with await hl7.mllp.start_hl7_server(handle, host="127.0.0.1", port=0, encoding="utf-8") as server:
        print("PORT", server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
