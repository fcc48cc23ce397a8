/**
 * Hand-written declarations for the parts of dcmjs 0.50.x this project uses (dcmjs ships no types).
 * Datasets are kept loosely typed on purpose: callers narrow every attribute they read.
 */
declare module 'dcmjs' {
  /** A denaturalized element as dcmjs reads and writes it (tag-keyed). */
  export interface DicomElement {
    vr: string;
    Value?: unknown[];
    InlineBinary?: string;
  }

  /** Tag-keyed ("00100020") dataset. */
  export type DenaturalizedDataset = Record<string, DicomElement>;

  /** Keyword-keyed dataset ("PatientID"); sequences are arrays of datasets. */
  export type NaturalizedDataset = Record<string, unknown>;

  export interface ReadOptions {
    ignoreErrors?: boolean;
    untilTag?: string | null;
    includeUntilTagValue?: boolean;
    noCopy?: boolean;
    forceStoreRaw?: boolean;
  }

  export class DicomDict {
    constructor(meta: DenaturalizedDataset);
    meta: DenaturalizedDataset;
    dict: DenaturalizedDataset;
    write(options?: { allowInvalidVRLength?: boolean; fragmentMultiframe?: boolean }): ArrayBuffer;
  }

  export class DicomMessage {
    static readFile(buffer: ArrayBuffer, options?: ReadOptions): DicomDict;
  }

  export class DicomMetaDictionary {
    static naturalizeDataset(dataset: DenaturalizedDataset): NaturalizedDataset;
    static denaturalizeDataset(dataset: NaturalizedDataset): DenaturalizedDataset;
    static uid(): string;
  }

  export interface Logger {
    setLevel(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'): void;
    getLogger(name: string): Logger;
  }

  /** A TID 300 measurement (Ellipse, Polyline, ...) built from viewer-style props. */
  export interface Tid300Measurement {
    ReferencedSOPSequence: NaturalizedDataset;
  }
  export type Tid300Constructor = new (props: Record<string, unknown>) => Tid300Measurement;

  const dcmjs: {
    data: {
      DicomDict: typeof DicomDict;
      DicomMessage: typeof DicomMessage;
      DicomMetaDictionary: typeof DicomMetaDictionary;
    };
    /** Used by tests to build SRs the way OHIF / Cornerstone do. */
    utilities: {
      TID1500: {
        TID1500MeasurementReport: new (groups: { TID1501MeasurementGroups: unknown[] }) => {
          contentItem(
            derivationSource: NaturalizedDataset,
            options?: Record<string, unknown>,
          ): NaturalizedDataset;
        };
        TID1501MeasurementGroup: new (measurements: Tid300Measurement[]) => unknown;
      };
      TID300: {
        Ellipse: Tid300Constructor;
        Polyline: Tid300Constructor;
      };
    };
    derivations: {
      StructuredReport: new (
        datasets: NaturalizedDataset[],
        options?: Record<string, unknown>,
      ) => {
        dataset: NaturalizedDataset;
      };
    };
    log: Logger;
  };
  export default dcmjs;
}
