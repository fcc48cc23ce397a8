/** Transfer syntaxes this reader knows, and which decoder each compressed one needs. */
export const TRANSFER_SYNTAX = {
  implicitLittle: '1.2.840.10008.1.2',
  explicitLittle: '1.2.840.10008.1.2.1',
  deflatedExplicitLittle: '1.2.840.10008.1.2.1.99',
  explicitBig: '1.2.840.10008.1.2.2',
  rle: '1.2.840.10008.1.2.5',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegExtended: '1.2.840.10008.1.2.4.51',
  jpegLossless57: '1.2.840.10008.1.2.4.57',
  jpegLossless70: '1.2.840.10008.1.2.4.70',
  jpegLsLossless: '1.2.840.10008.1.2.4.80',
  jpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  j2kLossless: '1.2.840.10008.1.2.4.90',
  j2k: '1.2.840.10008.1.2.4.91',
  htj2kLossless: '1.2.840.10008.1.2.4.201',
  htj2kLosslessRpcl: '1.2.840.10008.1.2.4.202',
  htj2k: '1.2.840.10008.1.2.4.203',
} as const;

/** Transfer syntaxes whose pixel data is stored as is. */
export const UNCOMPRESSED = new Set<string>([
  TRANSFER_SYNTAX.implicitLittle,
  TRANSFER_SYNTAX.explicitLittle,
  TRANSFER_SYNTAX.deflatedExplicitLittle,
  TRANSFER_SYNTAX.explicitBig,
]);

export type Decoder = 'rle' | 'jpeg' | 'jpegls' | 'j2k' | 'htj2k';
export const DECODERS: Record<string, Decoder> = {
  [TRANSFER_SYNTAX.rle]: 'rle',
  [TRANSFER_SYNTAX.jpegBaseline]: 'jpeg',
  [TRANSFER_SYNTAX.jpegExtended]: 'jpeg',
  [TRANSFER_SYNTAX.jpegLossless57]: 'jpeg',
  [TRANSFER_SYNTAX.jpegLossless70]: 'jpeg',
  [TRANSFER_SYNTAX.jpegLsLossless]: 'jpegls',
  [TRANSFER_SYNTAX.jpegLsNearLossless]: 'jpegls',
  [TRANSFER_SYNTAX.j2kLossless]: 'j2k',
  [TRANSFER_SYNTAX.j2k]: 'j2k',
  [TRANSFER_SYNTAX.htj2kLossless]: 'htj2k',
  [TRANSFER_SYNTAX.htj2kLosslessRpcl]: 'htj2k',
  [TRANSFER_SYNTAX.htj2k]: 'htj2k',
};
