// Query policies (docs/query-policies.md): who may read what through a contract's queries.
// The JSON form is the node's and the CLI's; `encodeQueryPolicy` is the postcard form a
// transaction carries.
import { PostcardReader, PostcardWriter, utf8Bytes } from './encoding.js';
import { VeilError } from './errors.js';

export type Rule = 'public' | 'deny' | 'admin' | { querier_in_message: string[] } | { querier_in_answer: string };
export type RawRule = 'none' | 'all' | { namespaces: string[] };
export interface QueryPolicy {
  default: Rule;
  queries?: Record<string, Rule>;
  raw?: RawRule;
}
export type PresetName = 'public' | 'cw20' | 'cw721' | 'private';

const inMessage = (...fields: string[]): Rule => ({ querier_in_message: fields });

/** The presets, exactly as `veil_types::QueryPolicy::preset` defines them. */
export const QUERY_POLICY_PRESETS: Record<PresetName, QueryPolicy> = {
  public: { default: 'public', queries: {}, raw: 'all' },
  cw20: {
    default: 'deny',
    queries: {
      balance: inMessage('address'),
      allowance: inMessage('owner', 'spender'),
      all_allowances: inMessage('owner'),
      all_spender_allowances: inMessage('spender'),
      all_accounts: 'deny',
      token_info: 'public',
      minter: 'public',
      marketing_info: 'public',
      download_logo: 'public',
    },
    raw: 'none',
  },
  cw721: {
    default: 'deny',
    queries: {
      owner_of: { querier_in_answer: 'owner' },
      all_nft_info: { querier_in_answer: 'access.owner' },
      approval: inMessage('spender'),
      approvals: 'deny',
      operator: inMessage('owner', 'operator'),
      all_operators: inMessage('owner'),
      tokens: inMessage('owner'),
      all_tokens: 'public',
      num_tokens: 'public',
      contract_info: 'public',
      nft_info: 'public',
      minter: 'public',
      ownership: 'public',
      get_minter_ownership: 'public',
      get_creator_ownership: 'public',
      get_collection_info_and_extension: 'public',
      get_withdraw_address: 'public',
      get_config: 'public',
      get_all_info: 'public',
      get_collection_extension_attributes: 'public',
      get_additional_minters: 'public',
      get_nft_by_extension: 'public',
    },
    raw: 'none',
  },
  private: { default: 'admin', queries: {}, raw: 'none' },
};

/** A preset by name, or the policy itself. */
export function resolveQueryPolicy(policy: PresetName | QueryPolicy): QueryPolicy {
  if (typeof policy !== 'string') return policy;
  const preset = QUERY_POLICY_PRESETS[policy];
  if (preset === undefined) throw new VeilError(`${JSON.stringify(policy)} is not a query policy preset`);
  return preset;
}

function writeRule(w: PostcardWriter, rule: Rule): void {
  if (rule === 'public') w.variant(0);
  else if (rule === 'deny') w.variant(1);
  else if (rule === 'admin') w.variant(2);
  else if (typeof rule === 'object' && 'querier_in_message' in rule) {
    w.variant(3).seq(rule.querier_in_message, (field) => w.string(field));
  } else if (typeof rule === 'object' && 'querier_in_answer' in rule) {
    w.variant(4).string(rule.querier_in_answer);
  } else throw new VeilError(`not a query policy rule: ${JSON.stringify(rule)}`);
}

function writeRawRule(w: PostcardWriter, raw: RawRule): void {
  if (raw === 'none') w.variant(0);
  else if (raw === 'all') w.variant(1);
  else if (typeof raw === 'object' && 'namespaces' in raw) w.variant(2).seq(raw.namespaces, (name) => w.string(name));
  else throw new VeilError(`not a raw query rule: ${JSON.stringify(raw)}`);
}

/** Byte order of UTF-8 keys, as Rust's `BTreeMap<String, _>` iterates. */
function compareUtf8(a: string, b: string): number {
  const x = utf8Bytes(a);
  const y = utf8Bytes(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! - y[i]!;
  }
  return x.length - y.length;
}

export function writeQueryPolicy(w: PostcardWriter, policy: QueryPolicy): void {
  writeRule(w, policy.default);
  const entries = Object.entries(policy.queries ?? {}).sort(([a], [b]) => compareUtf8(a, b));
  w.seq(entries, ([name, rule]) => {
    w.string(name);
    writeRule(w, rule);
  });
  writeRawRule(w, policy.raw ?? 'none');
}

function readRule(r: PostcardReader): Rule {
  switch (r.variant()) {
    case 0:
      return 'public';
    case 1:
      return 'deny';
    case 2:
      return 'admin';
    case 3:
      return { querier_in_message: r.seq(() => r.string()) };
    case 4:
      return { querier_in_answer: r.string() };
    default:
      throw new RangeError('postcard: unknown query rule');
  }
}

export function readQueryPolicy(r: PostcardReader): QueryPolicy {
  const defaultRule = readRule(r);
  const queries: Record<string, Rule> = {};
  for (const [name, rule] of r.seq(() => [r.string(), readRule(r)] as const)) queries[name] = rule;
  const rawIndex = r.variant();
  let raw: RawRule;
  if (rawIndex === 0) raw = 'none';
  else if (rawIndex === 1) raw = 'all';
  else if (rawIndex === 2) raw = { namespaces: r.seq(() => r.string()) };
  else throw new RangeError('postcard: unknown raw rule');
  return { default: defaultRule, queries, raw };
}
