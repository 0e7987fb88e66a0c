import { STORAGE_SOP_CLASS_DATA } from './sopClassesData.ts';

/** Storage SOP classes (PS3.4 Annex B; UIDs from PS3.6 Annex A), for C-STORE SCP negotiation. */
export interface StorageSopClass {
  uid: string;
  keyword: string;
  retired: boolean;
}

export const STORAGE_SOP_CLASSES: readonly StorageSopClass[] = STORAGE_SOP_CLASS_DATA.map(([uid, keyword, retired]) => ({ uid, keyword, retired }));

const BY_UID = new Map(STORAGE_SOP_CLASSES.map((c) => [c.uid, c]));

export function storageSopClass(uid: string): StorageSopClass | undefined {
  return BY_UID.get(uid.replace(/[\0 ]+$/, ''));
}

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';
export const MODALITY_WORKLIST_FIND = '1.2.840.10008.5.1.4.31';
export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const SECONDARY_CAPTURE_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.7';
