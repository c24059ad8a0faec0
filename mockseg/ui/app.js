// The mockseg journal page: reads the admin API (/__mockseg/calls, /stats, /reset) and shows
// what arrived. Plain DOM, no framework. Every piece of data goes in through textContent.
"use strict";

(() => {
  const TOKEN_KEY = "mockseg.adminToken";
  const POLL = "wait=1&timeout=25"; // long-poll: answers as soon as one new call exists
  const PAGE = 500; // calls per load: the newest at start, older ones on demand
  const BATCH_PATH = /^\/v1\/(batch|import|b)$/;
  const ITEM_PREFIX = /^batch\[\d+\]\.(.+)$/;
  const ROOT = "(root)"; // a tracking-plan violation of the whole message (gojsonschema's name)
  const SEVERITIES = ["error", "warning", "violation"]; // the strongest first

  const $ = (id) => document.getElementById(id);
  const ui = {
    rows: $("rows"), empty: $("empty"), shown: $("shown"), live: $("live"),
    pause: $("pause"), reset: $("reset"), older: $("older"),
    verdict: $("filter-verdict"), type: $("filter-type"), plan: $("filter-plan"),
    text: $("filter-text"),
    details: $("details"), detailsTitle: $("details-title"), detailsBody: $("details-body"),
    close: $("close"), tokenForm: $("token-form"), token: $("token"), tokenWhy: $("token-why"),
    counts: {
      total: $("count-total"), accepted: $("count-accepted"), rejected: $("count-rejected"),
      violations: $("count-violations"),
    },
  };

  const state = {
    records: [], // the loaded calls: the newest ones, oldest first, as the API sends them
    lastId: 0, // the highest id seen: the next poll asks for calls after it
    older: 0, // calls on the server older than the loaded ones ("Load older" fetches them)
    keep: PAGE, // how many loaded calls to keep as new ones arrive: grows with each "Load older"
    dropped: 0, // the server's count of evicted calls when last seen (evictions are no reset)
    paused: false,
    openId: null, // the call shown in the details panel
    tabId: null, // the one row in the Tab order (arrow keys move between rows)
    generation: 0, // bumped to stop a running poll loop
    controller: null, // aborts the running loop's request
  };

  // --- small helpers -----------------------------------------------------------------------

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
    }
    node.append(...children.filter((child) => child !== null && child !== undefined && child !== ""));
    return node;
  }

  /** A value as short text: strings as they are, anything else as JSON. */
  function text(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function field(record, name) {
    const payload = record.payload;
    return payload && typeof payload === "object" && !Array.isArray(payload) ? payload[name] : undefined;
  }

  function verdictOf(record) {
    if (record.fault) return "fault";
    if (record.status === "rejected") return "rejected";
    return record.warnings.length ? "warning" : "accepted";
  }

  function userOf(record) {
    const userId = field(record, "userId");
    if (userId !== undefined && userId !== null && userId !== "") return text(userId);
    const anonymousId = field(record, "anonymousId");
    return anonymousId === undefined || anonymousId === null ? "" : `anon ${text(anonymousId)}`;
  }

  /** The call's tracking-plan violations: `{type, field, description}` (none without a plan). */
  function violationsOf(record) {
    return record.violations || [];
  }

  /** Every problem of a call in one shape: its errors, its warnings, its plan violations. */
  function problemsOf(record) {
    return [
      ...record.errors.map((p) => ({ severity: "error", field: p.field, message: p.message })),
      ...record.warnings.map((p) => ({ severity: "warning", field: p.field, message: p.message })),
      ...violationsOf(record).map((v) => ({ severity: "violation", field: v.field, message: v.description })),
    ];
  }

  /** A violation as one line: its description, after its field unless it names it already. */
  function violationLine(violation) {
    const item = ITEM_PREFIX.exec(violation.field);
    const named = violation.description.startsWith(item ? item[1] : violation.field);
    return named ? violation.description : `${violation.field}: ${violation.description}`;
  }

  function firstProblem(record) {
    const problem = record.errors[0] || record.warnings[0];
    if (problem) return problem;
    if (record.fault) return { field: "response", message: `Injected fault: HTTP ${record.http_status}` };
    return record.status === "rejected" ? { field: "response", message: `HTTP ${record.http_status}` } : null;
  }

  function badge(verdict) {
    return el("span", { class: `badge ${verdict}` }, verdict);
  }

  /** The verdict (Segment's), and beside it "2 violations" for a call that breaks the plan. */
  function verdicts(record) {
    const count = violationsOf(record).length;
    return el("span", { class: "verdicts" }, badge(verdictOf(record)), count
      ? el("span", { class: "badge violation", title: "Breaks the tracking plan" },
        `${count} violation${count === 1 ? "" : "s"}`)
      : null);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // --- the admin API -----------------------------------------------------------------------

  class NeedsToken extends Error {}

  /** Call the admin API (paths are relative to the page: scopes work too) with the token. */
  async function api(path, { method = "GET", signal } = {}) {
    const headers = { Accept: "application/json" };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(path, { method, headers, signal, cache: "no-store" });
    if (response.status === 401) {
      const body = await response.json().catch(() => ({}));
      throw new NeedsToken((body.error && body.error.message) || "Admin token required");
    }
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
    return response.json();
  }

  function tokenFromFragment() {
    const token = new URLSearchParams(location.hash.slice(1)).get("token");
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token);
      history.replaceState(null, "", location.pathname + location.search); // hide it
    }
  }

  function askForToken(message) {
    setLive("locked", "token needed");
    ui.tokenWhy.textContent = `${message}. Enter the token given to mockseg serve --admin-token.`;
    ui.tokenForm.hidden = false;
    ui.token.focus();
  }

  // --- live updates ------------------------------------------------------------------------

  function setLive(kind, label) {
    ui.live.className = `live ${kind}`;
    ui.live.textContent = label;
  }

  function showStats(stats) {
    for (const [name, node] of Object.entries(ui.counts)) {
      node.textContent = String(stats[name] ?? 0);
    }
  }

  /** The tracking-plan counter and filter only for a server with a plan (health says which);
   * without one, "0 with violations" would read as a clean run. */
  function showPlan(plan) {
    const counter = ui.counts.violations.parentElement;
    const filter = ui.plan.closest("label");
    counter.hidden = filter.hidden = !plan;
    if (plan) {
      counter.title = `Calls that break the tracking plan ${plan.source} (${plan.rules} rule${plan.rules === 1 ? "" : "s"})`;
    } else if (ui.plan.value) {
      ui.plan.value = ""; // a filter that cannot be seen must not hide calls
    }
  }

  /** Load the newest calls again (on start, after a reset, after being offline). */
  async function sync(signal) {
    const [calls, stats, health] = await Promise.all([
      api(`calls?last=${PAGE}`, { signal }), api("stats", { signal }), api("health", { signal }),
    ]);
    showPlan(health.tracking_plan);
    state.records = calls.calls;
    state.older = calls.total - calls.calls.length;
    state.keep = PAGE;
    state.dropped = stats.dropped;
    // An empty journal: ask for any id (the server may have restarted, counting from 1).
    state.lastId = state.records.length ? state.records[state.records.length - 1].id : 0;
    showStats(stats);
    render();
  }

  /** Forget the oldest loaded calls past ``state.keep``; "Load older" brings them back. */
  function trim() {
    const extra = state.records.length - state.keep;
    if (extra > 0) {
      state.records.splice(0, extra);
      state.older += extra;
    }
  }

  /** Fetch the next page of older calls, before the oldest loaded one. */
  async function loadOlder() {
    if (!state.records.length) return;
    const oldest = state.records[0].id;
    ui.older.disabled = true;
    try {
      const body = await api(`calls?before=${oldest}&last=${PAGE}`);
      // A reset or a trim while the page was on its way: its calls no longer join on.
      if (!state.records.length || state.records[0].id !== oldest) return;
      state.records.unshift(...body.calls);
      state.older = body.total - body.calls.length;
      state.keep += body.calls.length;
      render();
    } catch (error) {
      if (error instanceof NeedsToken) askForToken(error.message);
      else window.alert(`Loading older calls failed: ${error.message}`);
    } finally {
      ui.older.disabled = false;
    }
  }

  /** Keep the table current until paused: one long-poll at a time. */
  async function run() {
    stop();
    const generation = state.generation;
    const controller = (state.controller = new AbortController());
    const { signal } = controller;
    let needSync = true;
    let retry = 1000;
    while (generation === state.generation) {
      try {
        if (needSync) {
          await sync(signal);
          needSync = false;
          setLive("on", "live");
        }
        // At most a page at a time; with more waiting, the next poll answers at once.
        const body = await api(`calls?after=${state.lastId}&limit=${PAGE}&${POLL}`, { signal });
        const stats = await api("stats", { signal });
        if (generation !== state.generation) return;
        const known = state.records.length + state.older + body.calls.length;
        const evicted = Math.max(stats.dropped - state.dropped, 0);
        state.dropped = stats.dropped;
        state.older = Math.max(state.older - evicted, 0);
        if (body.calls.length) {
          state.records.push(...body.calls);
          state.lastId = body.calls[body.calls.length - 1].id;
          trim();
        }
        showStats(stats);
        // Ids keep increasing after a reset, so a journal holding fewer calls than the page
        // knows of, less those evicted from a full journal, is how a reset shows.
        if (stats.total < known - evicted) needSync = true;
        else if (body.calls.length || evicted) render();
        retry = 1000;
      } catch (error) {
        if (generation !== state.generation) return; // stopped on purpose
        if (error instanceof NeedsToken) {
          askForToken(error.message);
          return;
        }
        setLive("off", `offline, retrying in ${retry / 1000}s`);
        await sleep(retry);
        retry = Math.min(retry * 2, 8000);
        needSync = true;
      }
    }
  }

  function stop() {
    state.generation += 1;
    if (state.controller) state.controller.abort();
    state.controller = null;
  }

  function setPaused(paused) {
    state.paused = paused;
    ui.pause.setAttribute("aria-pressed", String(paused)); // a toggle: its label stays "Pause"
    if (paused) {
      stop();
      setLive("paused", "paused: press Pause again to resume");
    } else {
      run();
    }
  }

  async function resetJournal() {
    if (!window.confirm("Empty the journal? Every recorded call is forgotten.")) return;
    try {
      await api("reset", { method: "POST" });
    } catch (error) {
      if (error instanceof NeedsToken) askForToken(error.message);
      else window.alert(`Reset failed: ${error.message}`);
      return;
    }
    closeDetails();
    state.records = [];
    state.older = 0;
    render();
    if (state.paused) await sync().catch(() => {});
    else run();
  }

  // --- the table ---------------------------------------------------------------------------

  function filters() {
    return {
      verdict: ui.verdict.value, type: ui.type.value, plan: ui.plan.value,
      text: ui.text.value.trim().toLowerCase(),
    };
  }

  function matches(record, wanted) {
    if (wanted.verdict && verdictOf(record) !== wanted.verdict) return false;
    if (wanted.type && (record.type || "null") !== wanted.type) return false;
    if (wanted.plan && (violationsOf(record).length > 0) !== (wanted.plan === "breaks")) return false;
    if (!wanted.text) return true;
    const haystack = [
      field(record, "groupId"), field(record, "userId"), field(record, "anonymousId"),
      ...problemsOf(record).map((p) => p.message),
    ];
    return haystack.some((value) => text(value).toLowerCase().includes(wanted.text));
  }

  function timeCell(iso) {
    const when = new Date(iso);
    const shown = Number.isNaN(when.getTime())
      ? iso
      : `${when.toLocaleTimeString([], { hour12: false })}.${String(when.getMilliseconds()).padStart(3, "0")}`;
    return el("time", { datetime: iso, title: iso }, shown);
  }

  /** The Problem cell's lines: the first error (or warning), then the first plan violation. */
  function problemLines(record) {
    const lines = [];
    const line = (kind, title, message, more) => el("span", { class: `problem-text ${kind}`, title },
      message, more > 0 ? el("span", { class: "more" }, ` +${more} more`) : null);
    const problem = firstProblem(record);
    if (problem) {
      lines.push(line("contract", `${problem.field}: ${problem.message}`, problem.message,
        record.errors.length + record.warnings.length - 1));
    }
    const violations = violationsOf(record);
    const first = violations[0];
    // A blocked call's errors are its violations: its first one is shown already.
    const shown = problem && problem.field === first?.field && problem.message === first?.description;
    if (first && !shown) {
      lines.push(line("violation", `${first.field}: ${first.description} (${first.type})`,
        violationLine(first), violations.length - 1));
    }
    return lines;
  }

  function rowFor(record) {
    const verdict = verdictOf(record);
    const lines = problemLines(record);
    const cell = (label, ...content) => el("td", { "data-label": label }, ...content);
    return el("tr", {
      tabindex: "-1", "data-id": String(record.id),
      class: `row ${verdict}${violationsOf(record).length ? " violates" : ""}`,
      "aria-current": record.id === state.openId ? "true" : null,
    },
      cell("#", String(record.id)),
      cell("Time", timeCell(record.received_at)),
      cell("Path", record.path),
      cell("Type", record.type || "—"),
      cell("Verdict", verdicts(record)),
      cell("groupId", text(field(record, "groupId"))),
      cell("User", userOf(record)),
      cell("Problem", lines.length ? el("span", { class: "problem-lines" }, ...lines) : null),
    );
  }

  function updateTypeOptions() {
    const types = new Set(state.records.map((record) => record.type || "null"));
    const chosen = ui.type.value;
    if (chosen) types.add(chosen);
    const have = [...ui.type.options].slice(1).map((option) => option.value);
    const want = [...types].sort();
    if (have.join() === want.join()) return;
    ui.type.replaceChildren(el("option", { value: "" }, "any"),
      ...want.map((type) => el("option", { value: type }, type === "null" ? "(none)" : type)));
    ui.type.value = chosen;
  }

  function render() {
    updateTypeOptions();
    const wanted = filters();
    const matching = state.records.filter((record) => matches(record, wanted)).reverse();
    const focused = document.activeElement && document.activeElement.closest("tr[data-id]");
    const focusedId = focused ? focused.dataset.id : null;
    ui.rows.replaceChildren(...matching.map(rowFor));
    const tabbable = rowById(state.tabId) || ui.rows.firstElementChild;
    if (tabbable) tabbable.tabIndex = 0;
    if (focusedId && rowById(focusedId)) rowById(focusedId).focus();
    const filtered = wanted.verdict || wanted.type || wanted.plan || wanted.text;
    ui.shown.textContent = filtered
      ? `${matching.length} of the ${state.records.length} loaded calls match`
      : "";
    ui.older.hidden = state.older === 0 || state.records.length === 0;
    ui.older.textContent = `Load older calls (${state.older} not loaded)`;
    ui.empty.hidden = matching.length > 0;
    ui.empty.textContent = state.records.length
      ? "No call matches these filters."
      : "No calls yet. Point your SDK at this server; calls show up here as they arrive.";
    if (state.openId !== null) {
      if (!state.records.some((record) => record.id === state.openId)) closeDetails();
    }
  }

  // --- the details panel -------------------------------------------------------------------

  /** Where each error, warning and violation points inside the payload: JSON path -> problems. */
  function problemsByPath(record) {
    const placed = new Map();
    const unplaced = [];
    const inBatch = BATCH_PATH.test(record.path);
    for (const problem of problemsOf(record)) {
      const item = ITEM_PREFIX.exec(problem.field);
      const path = item ? item[1] : inBatch ? null : problem.field; // batch-wide fields: unplaced
      if (path === ROOT) {
        unplaced.push({ ...problem, root: true }); // the whole message: said above it
        continue;
      }
      if (path === null) {
        unplaced.push(problem);
        continue;
      }
      if (!placed.has(path)) placed.set(path, []);
      placed.get(path).push(problem);
    }
    return { placed, unplaced };
  }

  /** Pretty-print ``value`` like JSON.stringify(value, null, 2), marking the problem nodes. */
  function prettyJson(value, problems) {
    const pre = el("pre", { class: "json" });
    const found = new Set();
    const pad = (depth) => "  ".repeat(depth);
    const scalar = (v) => el("span", { class: `j-${v === null ? "null" : typeof v}` }, JSON.stringify(v));

    /** One note per severity, each message once (a blocked call's errors are its violations). */
    function notes(here) {
      const said = new Set();
      return SEVERITIES.flatMap((severity) => {
        const messages = [];
        for (const p of here) {
          if (p.severity !== severity || said.has(p.message)) continue;
          said.add(p.message);
          messages.push(p.message);
        }
        const note = `  ← ${messages.join("; ")}`;
        return messages.length ? [el("span", { class: `note ${severity}` }, note)] : [];
      });
    }

    function entry(out, key, v, path, depth, last) {
      const here = path === "" ? undefined : problems.get(path);
      let line = out;
      out.append(pad(depth));
      if (here) {
        found.add(path);
        const severities = SEVERITIES.filter((severity) => here.some((p) => p.severity === severity));
        line = el("mark", { class: `flag ${severities.join(" ")}`, "data-field": path,
          title: [...new Set(here.map((p) => p.message))].join("\n") });
        out.append(line);
      }
      if (key !== null) line.append(el("span", { class: "j-key" }, JSON.stringify(key)), ": ");
      const note = here ? notes(here) : [];
      const isArray = Array.isArray(v);
      const children = v && typeof v === "object"
        ? (isArray ? v.map((c, i) => [null, c, `${path}[${i}]`])
          : Object.keys(v).map((k) => [k, v[k], path === "" ? k : `${path}.${k}`]))
        : null;
      const comma = last ? "" : ",";
      if (children && children.length) {
        line.append(isArray ? "[" : "{");
        out.append(...note, "\n");
        children.forEach(([k, c, p], i) => entry(out, k, c, p, depth + 1, i === children.length - 1));
        out.append(`${pad(depth)}${isArray ? "]" : "}"}${comma}`);
      } else {
        line.append(children ? (isArray ? "[]" : "{}") : scalar(v));
        out.append(comma, ...note);
      }
      if (path !== "") out.append("\n");
    }

    entry(pre, null, value, "", 0, true);
    return { pre, found };
  }

  function keyValues(pairs) {
    return el("dl", { class: "pairs" },
      ...pairs.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, text(value) || "—")]));
  }

  function section(title, ...content) {
    return el("section", {}, el("h3", {}, title), ...content);
  }

  function problemList(record) {
    const items = problemsOf(record).filter((p) => p.severity !== "violation");
    if (!items.length) return null;
    return el("ul", { class: "problems" }, ...items.map((p) =>
      el("li", { class: p.severity }, el("span", { class: "severity" }, p.severity), " ",
        el("code", {}, p.field), " ", p.message)));
  }

  /** The "Tracking plan" group: each violation's type, field and description. */
  function violationList(record) {
    const violations = violationsOf(record);
    if (!violations.length) return null;
    return section("Tracking plan",
      el("ul", { class: "problems plan" }, ...violations.map((v) =>
        el("li", { class: "violation" }, el("span", { class: "rule-type" }, v.type), " ",
          el("code", {}, v.field), " ", v.description))));
  }

  function bodyText(body) {
    try {
      return JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      return body;
    }
  }

  function payloadSection(record) {
    const { placed, unplaced } = problemsByPath(record);
    if (record.payload === null || record.payload === undefined) {
      const raw = record.raw_body;
      return section("Payload",
        problemUnplaced([...unplaced, ...[...placed.values()].flat()]),
        raw === undefined || raw === null
          ? el("p", { class: "muted" }, "No payload was recorded.")
          : el("div", {}, el("p", { class: "muted" }, "The body could not be parsed. As received:"),
            el("pre", { class: "raw" }, raw)));
    }
    const { pre, found } = prettyJson(record.payload, placed);
    for (const [path, problems] of placed) {
      if (!found.has(path)) unplaced.push(...problems); // absent fields: say so above
    }
    return section("Payload", problemUnplaced(unplaced), pre);
  }

  function problemUnplaced(problems) {
    if (!problems.length) return null;
    return el("ul", { class: "unplaced" }, ...problems.map((p) =>
      el("li", { class: p.root ? `${p.severity} root` : p.severity },
        el("code", {}, p.field), ` ${p.message}`)));
  }

  function detailsFor(record) {
    const response = record.response || {};
    const summary = [
      ["received", record.received_at], ["path", record.path], ["type", record.type],
      ["HTTP status", record.http_status], ["write key", record.write_key],
      ["request id", record.request_id],
    ];
    if (record.duplicate_of !== null) summary.push(["duplicate of", `#${record.duplicate_of}`]);
    if (record.scope) summary.push(["scope", record.scope]);
    return [
      el("p", { class: "verdict-line" }, verdicts(record), ` HTTP ${record.http_status} on ${record.path}`),
      problemList(record),
      violationList(record),
      payloadSection(record),
      section("Request headers", keyValues(Object.entries(record.headers || {}))),
      section("Response sent",
        el("p", {}, `HTTP ${text(response.status)}`),
        keyValues(Object.entries(response.headers || {})),
        el("pre", { class: "raw" }, bodyText(text(response.body)))),
      section("Call", keyValues(summary)),
    ];
  }

  function openDetails(id) {
    const record = state.records.find((r) => r.id === id);
    if (!record) return;
    state.openId = id;
    ui.detailsTitle.textContent = `Call #${id}`;
    ui.detailsBody.replaceChildren(...detailsFor(record).filter(Boolean));
    ui.details.hidden = false;
    for (const row of ui.rows.querySelectorAll("tr[aria-current]")) row.removeAttribute("aria-current");
    const row = rowById(id);
    if (row) row.setAttribute("aria-current", "true");
    ui.detailsTitle.focus();
  }

  function closeDetails() {
    if (state.openId === null) return;
    const row = rowById(state.openId);
    state.openId = null;
    ui.details.hidden = true;
    if (row) {
      row.removeAttribute("aria-current");
      if (ui.details.contains(document.activeElement) || document.activeElement === document.body) row.focus();
    }
  }

  // --- wiring ------------------------------------------------------------------------------

  function rowById(id) {
    return id === null ? null : ui.rows.querySelector(`tr[data-id="${CSS.escape(String(id))}"]`);
  }

  function rowId(event) {
    const row = event.target.closest("tr[data-id]");
    return row ? Number(row.dataset.id) : null;
  }

  ui.rows.addEventListener("click", (event) => {
    const id = rowId(event);
    if (id !== null) openDetails(id);
  });
  ui.rows.addEventListener("focusin", (event) => {
    const row = event.target.closest("tr[data-id]");
    if (!row) return;
    for (const other of ui.rows.querySelectorAll('tr[tabindex="0"]')) other.tabIndex = -1;
    row.tabIndex = 0;
    state.tabId = row.dataset.id;
  });
  ui.rows.addEventListener("keydown", (event) => {
    const id = rowId(event);
    if (id === null) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      openDetails(id);
    } else if (["ArrowDown", "ArrowUp", "Home", "End"].includes(event.key)) {
      event.preventDefault();
      const row = event.target.closest("tr");
      const next = {
        ArrowDown: row.nextElementSibling, ArrowUp: row.previousElementSibling,
        Home: ui.rows.firstElementChild, End: ui.rows.lastElementChild,
      }[event.key];
      if (next) next.focus();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.openId !== null) closeDetails();
  });
  ui.close.addEventListener("click", closeDetails);
  ui.pause.addEventListener("click", () => setPaused(!state.paused));
  ui.reset.addEventListener("click", resetJournal);
  ui.older.addEventListener("click", loadOlder);
  for (const input of [ui.verdict, ui.type, ui.plan]) input.addEventListener("change", render);
  ui.text.addEventListener("input", render);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  ui.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, ui.token.value.trim());
    ui.token.value = "";
    ui.tokenForm.hidden = true;
    if (!state.paused) run();
    else sync().catch(() => {});
  });

  tokenFromFragment();
  run();
})();
