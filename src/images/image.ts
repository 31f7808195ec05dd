/** A verified, content-addressed root filesystem, ready to be mounted read-only. */
export interface Image {
  /** The name the image was built or tagged as (e.g. `default`). */
  name: string;
  /** `sha256:<64 hex>` over the image's canonical manifest. */
  digest: string;
  /** Absolute path of the root filesystem tree; root-owned, never writable by sandboxes. */
  rootfs: string;
  /**
   * Id of the trusted key whose signature over the image verified when the image policy was
   * applied (signatures/enforce.ts); null: none did; absent: the policy was not applied.
   */
  signer?: string | null;
}
