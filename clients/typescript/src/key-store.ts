/**
 * Where a device keeps its key between runs. A store holds one record: the credentials' metadata
 * and the non-extractable CryptoKey (never the secret's bytes).
 *
 * - `MemoryKeyStore`: for Node and tests; gone when the process ends.
 * - `IndexedDbKeyStore`: browsers. CryptoKey objects are structured-cloneable, so IndexedDB stores
 *   the key itself while its bytes stay unreadable to scripts (extractable = false).
 * - React Native / Capacitor: implement `KeyStore` over the platform's secure storage (iOS Keychain,
 *   Android Keystore, e.g. react-native-keychain or @capacitor-community/secure-storage). Keep the
 *   metadata as JSON there; a WebView (Capacitor) has IndexedDB and can use `IndexedDbKeyStore`
 *   for the CryptoKey itself. A runtime whose WebCrypto cannot persist a CryptoKey keeps the key in
 *   memory and re-enrolls after a restart (see clients/typescript/README.md).
 */
import type { DeviceKey } from "./credentials.js";

export interface KeyStore {
  load(): Promise<DeviceKey | null>;
  save(record: DeviceKey): Promise<void>;
  delete(): Promise<void>;
}

export class MemoryKeyStore implements KeyStore {
  private record: DeviceKey | null = null;

  load(): Promise<DeviceKey | null> {
    return Promise.resolve(this.record);
  }

  save(record: DeviceKey): Promise<void> {
    this.record = record;
    return Promise.resolve();
  }

  delete(): Promise<void> {
    this.record = null;
    return Promise.resolve();
  }
}

const STORE = "device-keys";
const RECORD = "current";

function request<T>(operation: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    operation.onsuccess = () => {
      resolve(operation.result);
    };
    operation.onerror = () => {
      reject(operation.error ?? new Error("IndexedDB request failed"));
    };
  });
}

/** Browsers: one record in an IndexedDB object store (database name per app or gateway). */
export class IndexedDbKeyStore implements KeyStore {
  constructor(private readonly databaseName = "secure-ai-client") {
    if (typeof indexedDB === "undefined") {
      throw new Error("IndexedDB is not available here; use MemoryKeyStore or your own KeyStore");
    }
  }

  private async store(mode: IDBTransactionMode): Promise<IDBObjectStore> {
    const opening = indexedDB.open(this.databaseName, 1);
    opening.onupgradeneeded = () => {
      opening.result.createObjectStore(STORE);
    };
    const database = await request(opening);
    return database.transaction(STORE, mode).objectStore(STORE);
  }

  async load(): Promise<DeviceKey | null> {
    const value: unknown = await request((await this.store("readonly")).get(RECORD));
    return (value as DeviceKey | undefined) ?? null;
  }

  async save(record: DeviceKey): Promise<void> {
    await request((await this.store("readwrite")).put(record, RECORD));
  }

  async delete(): Promise<void> {
    await request((await this.store("readwrite")).delete(RECORD));
  }
}
