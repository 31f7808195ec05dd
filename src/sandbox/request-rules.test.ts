import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../api/errors.ts';
import { checkPath } from '../api/request-mapping.ts';
import { ImageField } from '../api/schemas.ts';
import { parseRunOptions, type RawRunOptions } from '../cli/run-options.ts';
import { DEFAULT_CONFIG } from '../config/config.ts';
import { absolutePathProblem, IMAGE_REF_PATTERN, withoutTrailingSlashes } from './request-rules.ts';

const RAW: RawRunOptions = { runtime: 'namespace', env: [], mount: [], workdir: '/tmp', network: 'none', allow: [], service: [], json: false };
const cliWorkdir = (workdir: string) => parseRunOptions({ ...RAW, workdir }, ['true'], DEFAULT_CONFIG, '/').workdir;
const cliImage = (image: string) => parseRunOptions({ ...RAW, image }, ['true'], DEFAULT_CONFIG, '/').image;

describe('request rules shared by the API and airlock run', () => {
  it('absolute paths: relative, NUL, .. and over-long are refused; trailing slashes dropped', () => {
    for (const bad of ['', 'tmp', './x', '/a/../b', '/..', '/a\0b', `/${'x'.repeat(5000)}`]) assert.ok(absolutePathProblem(bad) !== undefined, bad);
    for (const good of ['/', '/tmp', '/a/..b/c', '/usr/share/']) assert.equal(absolutePathProblem(good), undefined, good);
    assert.deepEqual(['/tmp/x/', '/', '//', '/a'].map(withoutTrailingSlashes), ['/tmp/x', '/', '/', '/a']);
  });

  it('the API (workdir, cwd, grants) and the CLI (--workdir, --mount) refuse and normalise the same paths', () => {
    for (const path of ['', 'tmp', '/a/../b', '/a\0b', `/${'x'.repeat(5000)}`, '/', '//', '/usr/share/', '/a/..b']) {
      let api: string | undefined;
      let cli: string | undefined;
      try {
        api = checkPath('body.workdir', path);
      } catch (err) {
        assert.ok(err instanceof ApiError && err.code === 'invalid_path');
      }
      try {
        cli = cliWorkdir(path);
      } catch (err) {
        assert.match((err as Error).message, /^--workdir: sandbox path /);
      }
      assert.equal(cli, api, JSON.stringify(path.slice(0, 20)));
    }
  });

  it('the API and the CLI accept the same image references', () => {
    for (const image of ['default', 'py3.12-slim', `sha256:${'a'.repeat(64)}`, '-x', 'a b', '../etc', 'sha256:xyz', 'x'.repeat(129), '']) {
      const api = ImageField.safeParse(image).success;
      let cli = true;
      try {
        cliImage(image);
      } catch {
        cli = false;
      }
      assert.equal(cli, api, image);
      assert.equal(IMAGE_REF_PATTERN.test(image), api, image);
    }
  });
});
