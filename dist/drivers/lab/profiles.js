const VN = 'Asia/Ho_Chi_Minh';
const SERIAL_9600_8N1 = { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 };
const MiB = 1024 * 1024;
/** Plain result messages: a few KB; 1 MiB leaves room for hundreds of results. */
const TEXT_ONLY = { maxMessageBytes: 1 * MiB, maxTransmissionBytes: 4 * MiB };
export const LAB_PROFILES = {
    'generic-astm': {
        id: 'generic-astm',
        name: 'Generic ASTM E1381/E1394 analyzer',
        protocol: 'astm',
        encoding: 'utf-8',
        timezone: VN,
        quirks: [],
        testCodes: {},
        astm: { framing: 'framed', frameSize: 247, defaultTransport: 'tcp-server', serial: SERIAL_9600_8N1, ...TEXT_ONLY },
    },
    'sysmex-xn': {
        id: 'sysmex-xn',
        name: 'Sysmex XN-series haematology (ASTM)',
        protocol: 'astm',
        encoding: 'latin1',
        timezone: VN,
        // Real XN captures carry 2.6 KB frames and &R& inside values.
        quirks: ['largeFrames', 'escapedRepeatsInValues'],
        testCodes: { 'WBC': 'CBC-WBC', 'RBC': 'CBC-RBC', 'HGB': 'CBC-HGB', 'HCT': 'CBC-HCT', 'PLT': 'CBC-PLT', 'MCV': 'CBC-MCV', 'MCH': 'CBC-MCH', 'MCHC': 'CBC-MCHC', 'NEUT%': 'CBC-NEUT%', 'LYMPH%': 'CBC-LYMPH%' },
        // XN can append scattergram/histogram data to a run: room for it.
        astm: { framing: 'framed', frameSize: 64_000, defaultTransport: 'tcp-client', serial: SERIAL_9600_8N1, maxMessageBytes: 4 * MiB, maxTransmissionBytes: 16 * MiB },
    },
    'roche-cobas-c': {
        id: 'roche-cobas-c',
        name: 'Roche cobas c 311 / c 501 chemistry (ASTM)',
        protocol: 'astm',
        encoding: 'latin1',
        timezone: VN,
        // A 624-byte c311 frame was captured in the wild.
        quirks: ['largeFrames'],
        // cobas sends R.3 as ^^^<ACN>/<dilution>: both spellings are mapped.
        testCodes: { '687': 'GLU', '687/': 'GLU', '418': 'CREA', '418/': 'CREA', '690': 'ALT', '690/': 'ALT', '685': 'AST', '685/': 'AST', '781': 'UREA', '781/': 'UREA', '435': 'CHOL', '435/': 'CHOL' },
        astm: { framing: 'framed', frameSize: 64_000, defaultTransport: 'serial', serial: SERIAL_9600_8N1, ...TEXT_ONLY },
    },
    'cepheid-genexpert': {
        id: 'cepheid-genexpert',
        name: 'Cepheid GeneXpert (ASTM, H|@^\\ delimiters)',
        protocol: 'astm',
        encoding: 'utf-8',
        timezone: VN,
        quirks: ['nonDefaultDelimiters'],
        testCodes: { 'MTB-RIF': 'MTB-XPERT', 'Xpert MTB-RIF Ultra': 'MTB-XPERT' },
        astm: { framing: 'framed', frameSize: 247, defaultTransport: 'tcp-client', serial: SERIAL_9600_8N1, ...TEXT_ONLY },
    },
    'mindray-bc': {
        id: 'mindray-bc',
        name: 'Mindray BC-5380 / BC-6800 haematology (HL7 v2.3.1)',
        protocol: 'hl7',
        encoding: 'utf-8',
        timezone: VN,
        quirks: ['unicodeMeansUtf8', 'qcByProcessingId'],
        testCodes: {},
        // BC-5380/6800 send histograms and scattergrams as Base64 bitmaps in OBX (ED): up to a few hundred KB each.
        hl7: { version: '2.3.1', query: 'QRY^Q02', maxMessageBytes: 4 * MiB },
    },
    'generic-hl7': {
        id: 'generic-hl7',
        name: 'Generic HL7 v2 analyzer over MLLP',
        protocol: 'hl7',
        encoding: 'utf-8',
        timezone: VN,
        quirks: [],
        testCodes: {},
        hl7: { version: '2.5', query: 'none', maxMessageBytes: 1 * MiB },
    },
};
export function labProfile(id) {
    const p = LAB_PROFILES[id];
    if (!p)
        throw new Error(`unknown lab profile '${id}' (known: ${Object.keys(LAB_PROFILES).join(', ')})`);
    return p;
}
