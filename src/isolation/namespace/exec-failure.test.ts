import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { execFailureWording } from './exec-failure.ts';

const through = (...chunks: string[]) => text(Readable.from(chunks.map((c) => Buffer.from(c))).pipe(execFailureWording()));

describe('execFailureWording', () => {
  it("rewords bubblewrap's exec failure as every runtime says it, even split across chunks", async () => {
    assert.equal(await through('bwrap: execvp nosuchcmd: No such file or directory\n'), 'airlock: nosuchcmd: No such file or directory\n');
    assert.equal(await through('bwr', 'ap: execvp /x/y: Permission', ' denied\nmore\n'), 'airlock: /x/y: Permission denied\nmore\n');
  });

  it('passes anything else through unchanged, whole', async () => {
    assert.equal(await through('hello\n', 'bwrap: execvp later: lines stay\n'), 'hello\nbwrap: execvp later: lines stay\n');
    assert.equal(await through('bwrap: Can\'t mount proc\n'), 'bwrap: Can\'t mount proc\n');
    assert.equal(await through('bw'), 'bw');
    assert.equal(await through(''), '');
  });
});
