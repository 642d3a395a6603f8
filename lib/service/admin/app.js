/* GopherCron admin page: a dependency-free single-page app over the REST API
 * (/api/v1). Views are chosen by the URL hash (#/projects/1 ...), so the
 * service only ever serves three static files. Everything shown that comes
 * from the API is put in the page as text nodes, never as HTML. */
"use strict";

(function () {
	const API = "/api/v1";
	const TOKEN_KEY = "gophercron.token";
	const USER_KEY = "gophercron.user";
	const POLL_TASKS_MS = 3000;
	const POLL_SLOW_MS = 10000;
	const DEFAULT_ADMIN = { account: "admin", password: "123456" };

	/* ------------------------------------------------------------ DOM */

	function h(tag, attrs, ...kids) {
		const el = document.createElement(tag);
		setAttrs(el, attrs);
		append(el, kids);
		return el;
	}

	function s(tag, attrs, ...kids) {
		const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
		setAttrs(el, attrs);
		append(el, kids);
		return el;
	}

	function setAttrs(el, attrs) {
		if (!attrs) return;
		for (const [k, v] of Object.entries(attrs)) {
			if (v === null || v === undefined || v === false) continue;
			if (k === "class") el.setAttribute("class", v);
			else if (k === "text") el.textContent = v;
			else if (k.startsWith("on") && typeof v === "function")
				el.addEventListener(k.slice(2), v);
			else if (v === true) el.setAttribute(k, "");
			else el.setAttribute(k, String(v));
		}
	}

	function append(el, kids) {
		for (const kid of kids.flat(Infinity)) {
			if (kid === null || kid === undefined || kid === false) continue;
			el.append(kid instanceof Node ? kid : String(kid));
		}
	}

	/* Replace an element's children; null/false are skipped, arrays flattened. */
	function put(el, ...kids) {
		el.replaceChildren();
		append(el, kids);
	}

	const $ = (sel, root) => (root || document).querySelector(sel);
	const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

	function button(label, onclick, cls, attrs) {
		return h("button", Object.assign({ type: "button", class: "btn " + (cls || ""), onclick }, attrs || {}), label);
	}

	/* ------------------------------------------------------------ formatting */

	const pad = (n) => String(n).padStart(2, "0");

	function toDate(v) {
		if (v === null || v === undefined || v === "") return null;
		if (v instanceof Date) return v;
		if (typeof v === "number" || /^\d+$/.test(String(v))) {
			const n = Number(v);
			if (n <= 0) return null;
			/* Seconds everywhere in the API; accept milliseconds too. */
			return new Date(n < 1e11 ? n * 1000 : n);
		}
		const d = new Date(v);
		return isNaN(d) ? null : d;
	}

	function fmtTime(v) {
		const d = toDate(v);
		if (!d) return "—";
		return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
			`${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
	}

	/* Log times are whole seconds, so a run within one second shows "< 1 s". */
	function fmtDuration(sec) {
		if (sec === null || sec === undefined || isNaN(sec) || sec < 0) return "—";
		if (sec === 0) return "< 1 s";
		if (sec < 60) return `${Math.round(sec * 10) / 10} s`;
		if (sec < 3600) return `${Math.floor(sec / 60)} min ${Math.round(sec % 60)} s`;
		return `${Math.floor(sec / 3600)} h ${Math.floor((sec % 3600) / 60)} min`;
	}

	function fmtRelative(d) {
		if (!d) return "";
		const diff = Math.round((d.getTime() - Date.now()) / 1000);
		const a = Math.abs(diff);
		if (a < 1) return "now";
		let t;
		if (a < 60) t = `${a} s`;
		else if (a < 3600) t = `${Math.round(a / 60)} min`;
		else if (a < 86400 * 2) t = `${Math.round(a / 3600)} h`;
		else t = `${Math.round(a / 86400)} days`;
		return diff >= 0 ? `in ${t}` : `${t} ago`;
	}

	function fmtBytes(n) {
		if (n < 1024) return `${n} B`;
		if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
		return `${(n / 1024 / 1024).toFixed(1)} MiB`;
	}

	function tzLabel() {
		const off = -new Date().getTimezoneOffset();
		const sign = off >= 0 ? "+" : "-";
		return `UTC${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
	}

	/* ------------------------------------------------------------ session */

	const session = {
		token: null,
		user: null, /* {id, name, account, permission, defaultPassword} */
		load() {
			for (const store of [sessionStorage, localStorage]) {
				const t = store.getItem(TOKEN_KEY);
				if (t) {
					this.token = t;
					try {
						this.user = JSON.parse(store.getItem(USER_KEY) || "null");
					} catch (e) {
						this.user = null;
					}
					this.store = store;
					return true;
				}
			}
			return false;
		},
		save(token, user, remember) {
			this.clear();
			this.store = remember ? localStorage : sessionStorage;
			this.token = token;
			this.user = user;
			this.store.setItem(TOKEN_KEY, token);
			this.persistUser();
		},
		persistUser() {
			if (this.store) this.store.setItem(USER_KEY, JSON.stringify(this.user));
		},
		clear() {
			for (const store of [sessionStorage, localStorage]) {
				store.removeItem(TOKEN_KEY);
				store.removeItem(USER_KEY);
			}
			this.token = null;
			this.user = null;
			this.store = null;
		},
		isAdmin() {
			const p = (this.user && this.user.permission) || "";
			return p.split(",").map((x) => x.trim()).includes("admin");
		},
	};

	/* ------------------------------------------------------------ API */

	class ApiError extends Error {
		constructor(message, code, status) {
			super(message);
			this.code = code;
			this.status = status;
		}
	}

	/* Call the REST API. Parameters go form-encoded in the body of a POST
	 * (as the original's clients do) or in the query string of a GET.
	 * Resolves with the envelope's `response`, rejects with ApiError
	 * carrying meta.msg. */
	async function api(method, path, params) {
		let url = API + path;
		const headers = { Accept: "application/json" };
		if (session.token) headers["access-token"] = session.token;
		const form = new URLSearchParams();
		for (const [k, v] of Object.entries(params || {})) {
			if (v !== undefined && v !== null) form.append(k, String(v));
		}
		const init = { method, headers, cache: "no-store" };
		if (method === "GET") {
			const q = form.toString();
			if (q) url += "?" + q;
		} else {
			init.body = form;
		}
		let res;
		try {
			res = await fetch(url, init);
		} catch (e) {
			throw new ApiError(`Cannot reach the service (${method} ${path}): ${e.message}`, 0, 0);
		}
		const text = await res.text();
		let doc = null;
		try {
			doc = JSON.parse(text);
		} catch (e) {
			doc = null;
		}
		if (!doc || typeof doc !== "object" || !doc.meta) {
			const snippet = text ? `: ${text.slice(0, 200)}` : "";
			throw new ApiError(`${method} ${path} answered HTTP ${res.status}${snippet}`, res.status, res.status);
		}
		const code = Number(doc.meta.code);
		if (code !== 0) {
			const msg = doc.meta.msg || doc.meta.msg_en || `${method} ${path} failed (code ${code})`;
			if (code === 401 && session.token) sessionExpired(msg);
			throw new ApiError(msg, code, res.status);
		}
		return doc.response;
	}

	/* Error codes that belong to one field of a form. */
	const CODE_FIELD = {
		10007: "account",  /* user not found */
		10011: "password", /* wrong password */
		10013: "title",    /* project exists */
		10015: "cron",     /* bad cron expression */
		10016: "account",  /* user exists */
	};

	/* ------------------------------------------------------------ form errors */

	function clearErrors(form) {
		for (const el of $$("[data-error-for]", form)) {
			el.hidden = true;
			el.textContent = "";
		}
		for (const el of $$("[aria-invalid]", form)) el.removeAttribute("aria-invalid");
	}

	function fieldError(form, field, message) {
		let slot = field ? $(`[data-error-for="${field}"]`, form) : null;
		if (!slot) slot = $('[data-error-for=""]', form);
		if (!slot) {
			toast(message, "error");
			return;
		}
		if (!slot.id) slot.id = `err-${form.id || "f"}-${field || "form"}`;
		slot.textContent = message;
		slot.hidden = false;
		const input = field && form.elements[field];
		if (input && input.setAttribute) {
			input.setAttribute("aria-invalid", "true");
			const ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
			if (!ids.includes(slot.id)) ids.push(slot.id);
			input.setAttribute("aria-describedby", ids.join(" "));
		}
	}

	/* Which field an API error is about: by code, else by the field name
	 * appearing in the message ("cron: field 2 ..."), else the form. */
	function errorField(form, err, codeMap) {
		const map = Object.assign({}, CODE_FIELD, codeMap || {});
		const byCode = map[err.code];
		if (byCode && $(`[data-error-for="${byCode}"]`, form)) return byCode;
		const names = $$("[data-error-for]", form).map((e) => e.dataset.errorFor).filter(Boolean);
		names.sort((a, b) => b.length - a.length);
		const msg = (err.message || "").toLowerCase();
		for (const n of names) {
			const re = new RegExp(`(^|[^a-z_])(${n}|${n.replace(/_/g, " ")})([^a-z_]|$)`);
			if (re.test(msg)) return n;
		}
		return "";
	}

	function showApiError(form, err, codeMap) {
		if (err.code === 401 && !session.token) return;
		const field = errorField(form, err, codeMap);
		fieldError(form, field, err.message);
		const input = field && form.elements[field];
		if (input && input.focus) input.focus();
	}

	/* Run `fn` with the form's submit button disabled; show its error. */
	async function submitting(form, fn, codeMap) {
		const btn = $('button[type="submit"]', form);
		clearErrors(form);
		if (btn) btn.disabled = true;
		form.setAttribute("aria-busy", "true");
		try {
			return await fn();
		} catch (err) {
			if (err instanceof ApiError) showApiError(form, err, codeMap);
			else fieldError(form, "", String(err && err.message || err));
			return undefined;
		} finally {
			if (btn) btn.disabled = false;
			form.removeAttribute("aria-busy");
		}
	}

	/* New passwords: as the service checks them (characters, not bytes). */
	const PASSWORD_MIN = 8;

	function passwordLongEnough(form, name) {
		const el = form.elements[name];
		const n = Array.from(el.value).length;
		if (n >= PASSWORD_MIN) return true;
		fieldError(form, name, `Too short: at least ${PASSWORD_MIN} characters (this one has ${n}).`);
		el.focus();
		return false;
	}

	/* After a change of one's own password the old token no longer works:
	 * the answer carries a new one. */
	function keepNewToken(res) {
		if (!res || !res.token || !session.store) return;
		session.token = res.token;
		session.store.setItem(TOKEN_KEY, res.token);
	}

	function requireFields(form, names) {
		let ok = true;
		for (const n of names) {
			const el = form.elements[n];
			if (el && !String(el.value).trim()) {
				fieldError(form, n, "Required.");
				if (ok) el.focus();
				ok = false;
			}
		}
		return ok;
	}

	/* ------------------------------------------------------------ toasts, dialogs */

	function toast(message, kind) {
		const box = $("#toasts");
		const el = h("div", { class: `toast ${kind || ""}` }, message);
		box.append(el);
		while (box.children.length > 3) box.firstElementChild.remove();
		setTimeout(() => el.remove(), kind === "error" ? 9000 : 4500);
	}

	let dialogOpener = null;

	function openDialog(dlg) {
		dialogOpener = document.activeElement;
		for (const f of $$("form", dlg)) clearErrors(f);
		dlg.showModal();
		const first = $("[autofocus]", dlg) ||
			$("input:not([type=hidden]):not([disabled]), textarea, select", dlg) ||
			$("button[type=submit], [data-close]", dlg);
		if (first) first.focus();
	}

	function closeDialog(dlg) {
		if (dlg.open) dlg.close();
	}

	function wireDialogs() {
		for (const dlg of $$("dialog")) {
			for (const b of $$("[data-close]", dlg)) b.addEventListener("click", () => closeDialog(dlg));
			dlg.addEventListener("close", () => {
				const o = dialogOpener;
				dialogOpener = null;
				if (o && document.contains(o) && o.focus) o.focus();
			});
		}
	}

	/* A confirmation dialog; `action` runs on OK and may throw an ApiError
	 * which is then shown inside the dialog. */
	function confirmAction(title, text, okLabel, action) {
		const dlg = $("#dlg-confirm");
		const form = $("form", dlg);
		$("#dlg-confirm-title").textContent = title;
		$("#dlg-confirm-text").textContent = text;
		$("#dlg-confirm-ok").textContent = okLabel || "Delete";
		form.onsubmit = async (ev) => {
			ev.preventDefault();
			const done = await submitting(form, async () => {
				await action();
				return true;
			});
			if (done) closeDialog(dlg);
		};
		openDialog(dlg);
		$("#dlg-confirm-ok").focus();
	}

	/* ------------------------------------------------------------ shell: login, nav, banner */

	function showLogin(message) {
		stopView();
		$("#topbar").hidden = true;
		$("#default-pw-banner").hidden = true;
		$("#view").hidden = true;
		put($("#view"));
		const sec = $("#login-view");
		sec.hidden = false;
		const form = $("#login-form");
		clearErrors(form);
		form.elements.password.value = "";
		if (message) fieldError(form, "", message);
		document.title = "Sign in · GopherCron";
		form.elements.account.focus();
	}

	function sessionExpired(msg) {
		session.clear();
		showLogin(`Your session ended (${msg}). Please sign in again.`);
	}

	async function onLogin(ev) {
		ev.preventDefault();
		const form = ev.currentTarget;
		clearErrors(form);
		if (!requireFields(form, ["account", "password"])) return;
		const account = form.elements.account.value.trim();
		const password = form.elements.password.value;
		const remember = form.elements.remember.checked;
		const res = await submitting(form, () => api("POST", "/user/login", { account, password }));
		if (!res || !res.token) {
			if (res) fieldError(form, "", "The service answered without a token.");
			return;
		}
		const user = {
			id: res.id,
			name: res.name,
			account,
			permission: res.permission || "",
			defaultPassword: defaultPasswordFlag(res, account, password),
		};
		session.save(res.token, user, remember);
		form.elements.password.value = "";
		startApp();
	}

	/* Whether the signed-in user still has the first-start password: the
	 * service says so when it can; otherwise it is known from the sign-in. */
	function defaultPasswordFlag(res, account, password) {
		for (const k of ["default_password", "password_is_default", "is_default_password", "must_change_password"]) {
			if (res && k in res) return !!Number(res[k]) || res[k] === true;
		}
		return account === DEFAULT_ADMIN.account && password === DEFAULT_ADMIN.password;
	}

	function updateBanner() {
		$("#default-pw-banner").hidden = !(session.user && session.user.defaultPassword);
	}

	async function refreshUserInfo() {
		try {
			const info = await api("GET", "/user/info");
			if (!info || !session.user) return;
			session.user.name = info.name || session.user.name;
			session.user.permission = info.permission !== undefined ? info.permission : session.user.permission;
			if (info.account) session.user.account = info.account;
			for (const k of ["default_password", "password_is_default", "is_default_password", "must_change_password"]) {
				if (k in info) session.user.defaultPassword = !!Number(info[k]) || info[k] === true;
			}
			session.persistUser();
			renderShell();
		} catch (e) {
			/* 401 already handled; other errors leave the cached user. */
		}
	}

	function renderShell() {
		$("#login-view").hidden = true;
		$("#topbar").hidden = false;
		$("#view").hidden = false;
		const u = session.user || {};
		$("#who-name").textContent = u.name ? `${u.name}${u.account ? " (" + u.account + ")" : ""}` : "";
		for (const el of $$("[data-admin-only]")) el.hidden = !session.isAdmin();
		updateBanner();
	}

	function startApp() {
		renderShell();
		refreshUserInfo();
		route();
	}

	function logout() {
		session.clear();
		location.hash = "#/";
		showLogin();
	}

	function openPasswordDialog() {
		const dlg = $("#dlg-password");
		const form = $("#password-form");
		form.reset();
		openDialog(dlg);
	}

	async function onChangePassword(ev) {
		ev.preventDefault();
		const form = ev.currentTarget;
		clearErrors(form);
		if (!requireFields(form, ["password", "new_password", "confirm"])) return;
		const oldPw = form.elements.password.value;
		const newPw = form.elements.new_password.value;
		if (newPw !== form.elements.confirm.value) {
			fieldError(form, "confirm", "The two new passwords differ.");
			form.elements.confirm.focus();
			return;
		}
		if (newPw === oldPw) {
			fieldError(form, "new_password", "The new password is the same as the current one.");
			form.elements.new_password.focus();
			return;
		}
		if (!passwordLongEnough(form, "new_password")) return;
		const ok = await submitting(form, async () => {
			keepNewToken(await api("POST", "/user/change_password", { password: oldPw, new_password: newPw }));
			return true;
		});
		if (!ok) return;
		if (session.user) {
			session.user.defaultPassword = false;
			session.persistUser();
		}
		updateBanner();
		closeDialog($("#dlg-password"));
		toast("Password changed.", "ok");
	}

	/* ------------------------------------------------------------ router */

	let current = null; /* the running view's context */

	function stopView() {
		if (current) {
			current.stopped = true;
			for (const fn of current.cleanup) {
				try {
					fn();
				} catch (e) { /* keep stopping the rest */ }
			}
		}
		current = null;
	}

	function parseHash() {
		const raw = location.hash.replace(/^#/, "") || "/";
		const [path, qs] = raw.split("?");
		return { path: path || "/", query: new URLSearchParams(qs || "") };
	}

	function hashFor(path, query) {
		const q = query ? new URLSearchParams(query).toString() : "";
		return "#" + path + (q ? "?" + q : "");
	}

	const routes = [
		[/^\/$/, "dashboard", viewDashboard],
		[/^\/projects$/, "projects", viewProjects],
		[/^\/projects\/(\d+)$/, "projects", viewProject],
		[/^\/projects\/(\d+)\/members$/, "projects", viewMembers],
		[/^\/projects\/(\d+)\/tasks\/([^/]+)\/logs$/, "projects", viewLogs],
		[/^\/nodes$/, "nodes", viewNodes],
		[/^\/users$/, "users", viewUsers],
	];

	/* Background refreshes failing: say so once, and again when it works. */
	let connectionLost = false;

	function connection(ok, err) {
		if (ok && connectionLost) {
			connectionLost = false;
			toast("Connected to the service again.", "ok");
		} else if (!ok && !connectionLost && !(err instanceof ApiError && err.code === 401)) {
			connectionLost = true;
			toast(`Live updates failed: ${err && err.message || err}. Retrying…`, "error");
		}
	}

	/* For refreshes started by a click or a timer: errors go to connection(). */
	function later(fn, ms) {
		setTimeout(() => {
			Promise.resolve().then(fn).catch((e) => connection(false, e));
		}, ms || 0);
	}

	function route() {
		if (!session.token) {
			showLogin();
			return;
		}
		const { path, query } = parseHash();
		stopView();
		let match = null, nav = "", fn = viewNotFound;
		for (const [re, n, f] of routes) {
			match = path.match(re);
			if (match) {
				nav = n;
				fn = f;
				break;
			}
		}
		for (const a of $$("[data-nav]")) {
			if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
			else a.removeAttribute("aria-current");
		}
		$("#nav").classList.remove("open");
		$("#menu-toggle").setAttribute("aria-expanded", "false");
		const ctx = {
			params: match ? match.slice(1).map(decodeURIComponent) : [],
			query,
			path,
			stopped: false,
			cleanup: [],
			root: h("div", { class: "page" }),
			/* Repeat `fn` every `ms` while this view is shown and the tab is
			 * visible; never two calls at once. */
			every(ms, fn2) {
				let timer = null;
				const tick = async () => {
					timer = null;
					if (ctx.stopped) return;
					if (!document.hidden) {
						try {
							await fn2();
							connection(true);
						} catch (e) {
							if (!ctx.stopped) connection(false, e);
						}
					}
					if (!ctx.stopped) timer = setTimeout(tick, ms);
				};
				timer = setTimeout(tick, ms);
				ctx.cleanup.push(() => timer && clearTimeout(timer));
			},
		};
		current = ctx;
		const view = $("#view");
		put(view, ctx.root);
		ctx.root.append(h("p", { class: "loading", role: "status" }, "Loading…"));
		Promise.resolve(fn(ctx)).catch((err) => {
			if (ctx.stopped) return;
			if (err instanceof ApiError && err.code === 401) return;
			put(ctx.root, 
				h("h1", null, "Something went wrong"),
				h("p", { class: "error-box", role: "alert" }, err.message || String(err)),
				button("Try again", () => route(), "btn-primary"));
		});
	}

	/* Replace the page content once a view has its data; focus the heading
	 * so keyboard and screen-reader users land on the new page. */
	function render(ctx, title, ...content) {
		if (ctx.stopped) return;
		const h1 = h("h1", { tabindex: "-1" }, title);
		put(ctx.root, h1, ...content);
		document.title = `${title} · GopherCron`;
		if (!$("#login-view").hidden) return;
		const ae = document.activeElement;
		if (!ae || ae === document.body || !document.contains(ae) || ae.closest("nav")) h1.focus({ preventScroll: true });
	}

	function breadcrumbs(items) {
		return h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
			h("ol", null, items.map(([label, href], i) =>
				h("li", null, href && i < items.length - 1 ? h("a", { href }, label) : h("span", { "aria-current": "page" }, label)))));
	}

	function viewNotFound(ctx) {
		render(ctx, "Page not found", h("p", null, "There is no such page. ", h("a", { href: "#/" }, "Go to the dashboard.")));
	}

	/* ------------------------------------------------------------ shared data */

	async function loadProjects() {
		const res = await api("GET", "/project/list");
		return (res && res.list) || [];
	}

	async function loadClients() {
		const res = await api("GET", "/client/list");
		return Array.isArray(res) ? res : (res && res.list) || [];
	}

	function clientsByProject(clients) {
		const m = new Map();
		for (const c of clients) {
			const k = Number(c.project_id);
			if (!m.has(k)) m.set(k, []);
			m.get(k).push(c);
		}
		return m;
	}

	/* "ip:version" strings of /crontab/client_list, as {client_ip, version}. */
	function parseClientList(res) {
		const list = (res && res.list) || (Array.isArray(res) ? res : []);
		return list.map((x) => {
			if (typeof x !== "string") return x;
			const i = x.indexOf(":");
			return i < 0 ? { client_ip: x, version: "" } : { client_ip: x.slice(0, i), version: x.slice(i + 1) };
		});
	}

	/* The log record's `result` is itself JSON:
	 * {"result": OUTPUT, "system_error": ERR, "error": ""}. */
	function parseResult(log) {
		let out = { output: "", systemError: "", error: "" };
		const r = log.result;
		if (r && typeof r === "object") {
			out = { output: r.result || "", systemError: r.system_error || "", error: r.error || "" };
		} else if (typeof r === "string") {
			try {
				const j = JSON.parse(r);
				out = { output: j.result || "", systemError: j.system_error || "", error: j.error || "" };
			} catch (e) {
				out.output = r;
			}
		}
		return out;
	}

	function logDuration(log) {
		const a = Number(log.start_time), b = Number(log.end_time);
		return a > 0 && b >= a ? b - a : null;
	}

	function logFailed(log) {
		return Number(log.with_error) !== 0;
	}

	function logErrorText(log) {
		const r = parseResult(log);
		return r.systemError || r.error || (logFailed(log) ? "failed" : "");
	}

	/* Next fire times per cron expression, from GET /crontab/next; one
	 * request per distinct expression, refreshed when they run out. */
	const nextCache = new Map();

	function parseNextTimes(res) {
		let list = Array.isArray(res) ? res : res && (res.list || res.next || res.times);
		if (!Array.isArray(list)) list = [];
		return list.map((v) => toDate(typeof v === "object" && v ? (v.time || v.unix || v.t) : v)).filter(Boolean);
	}

	async function fetchNext(expr, n) {
		return parseNextTimes(await api("GET", "/crontab/next", { cron: expr, n: n || 5 }));
	}

	function nextRunFor(expr, onUpdate) {
		const now = Date.now();
		const e = nextCache.get(expr);
		if (e) {
			if (e.error) return e;
			const t = e.times.find((d) => d.getTime() > now);
			if (t) return { time: t };
			if (e.pending) return { pending: true };
		}
		const entry = { times: e ? e.times : [], pending: true };
		nextCache.set(expr, entry);
		fetchNext(expr, 5).then((times) => {
			entry.times = times;
			entry.pending = false;
			entry.error = null;
			onUpdate();
		}, (err) => {
			entry.pending = false;
			entry.error = err.message;
			onUpdate();
		});
		return { pending: true };
	}

	/* Run async jobs with at most `n` in flight. */
	function limiter(n) {
		let active = 0;
		const queue = [];
		const next = () => {
			if (active >= n || !queue.length) return;
			active++;
			const [fn, resolve, reject] = queue.shift();
			fn().then(resolve, reject).finally(() => {
				active--;
				next();
			});
		};
		return (fn) => new Promise((resolve, reject) => {
			queue.push([fn, resolve, reject]);
			next();
		});
	}

	/* ------------------------------------------------------------ dashboard */

	async function viewDashboard(ctx) {
		const chartBox = h("div", { class: "chart-box" });
		const projectsBox = h("div");
		render(ctx, "Dashboard",
			h("section", { class: "card", "aria-labelledby": "runs-title" },
				h("h2", { id: "runs-title" }, "Runs in the last 7 days"), chartBox),
			h("section", { class: "card", "aria-labelledby": "projects-title" },
				h("div", { class: "section-head" },
					h("h2", { id: "projects-title" }, "Projects"),
					h("a", { class: "btn", href: "#/projects" }, "Manage projects")),
				projectsBox));
		const load = async () => {
			const [recent, projects, clients] = await Promise.all([
				api("GET", "/log/recent").catch((e) => e),
				loadProjects(),
				loadClients().catch(() => []),
			]);
			if (ctx.stopped) return;
			if (recent instanceof ApiError) put(chartBox, h("p", { class: "error-box", role: "alert" }, recent.message));
			else put(chartBox, runsChart(Array.isArray(recent) ? recent : (recent && recent.list) || [], chartBox.clientWidth));
			put(projectsBox, projectSummary(projects, clientsByProject(clients)));
		};
		await load();
		ctx.every(POLL_SLOW_MS, load);
	}

	/* Drawn at the box's pixel width so labels keep their size on any screen. */
	function runsChart(days, width) {
		const W = Math.max(300, Math.round(width || 640)), H = 240, L = 40, R = 10, T = 16, B = 40;
		const max = Math.max(1, ...days.map((d) => Math.max(Number(d.success_count) || 0, Number(d.error_count) || 0)));
		const step = niceStep(max);
		const top = Math.ceil(max / step) * step;
		const y = (v) => T + (H - T - B) * (1 - v / top);
		const slot = (W - L - R) / Math.max(1, days.length);
		const bw = Math.min(28, slot / 3);
		let okTotal = 0, errTotal = 0;
		const g = [];
		for (let v = 0; v <= top; v += step) {
			g.push(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
			g.push(s("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, String(v)));
		}
		days.forEach((d, i) => {
			const ok = Number(d.success_count) || 0, err = Number(d.error_count) || 0;
			okTotal += ok;
			errTotal += err;
			const cx = L + slot * i + slot / 2;
			const date = String(d.date || "");
			g.push(s("rect", { x: cx - bw - 1, y: y(ok), width: bw, height: Math.max(0, y(0) - y(ok)), class: "bar ok" },
				s("title", null, `${date}: ${ok} succeeded`)));
			g.push(s("rect", { x: cx + 1, y: y(err), width: bw, height: Math.max(0, y(0) - y(err)), class: "bar err" },
				s("title", null, `${date}: ${err} failed`)));
			if (ok) g.push(s("text", { x: cx - bw / 2 - 1, y: y(ok) - 3, class: "val", "text-anchor": "middle" }, String(ok)));
			if (err) g.push(s("text", { x: cx + bw / 2 + 1, y: y(err) - 3, class: "val", "text-anchor": "middle" }, String(err)));
			g.push(s("text", { x: cx, y: H - B + 16, class: "axis", "text-anchor": "middle" }, date.slice(5)));
		});
		const summary = `${okTotal} succeeded and ${errTotal} failed runs over ${days.length} days`;
		const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `Runs per day: ${summary}` }, g);
		const table = h("table", { class: "sr-only" },
			h("caption", null, "Runs per day"),
			h("thead", null, h("tr", null, h("th", { scope: "col" }, "Date"), h("th", { scope: "col" }, "Succeeded"), h("th", { scope: "col" }, "Failed"))),
			h("tbody", null, days.map((d) => h("tr", null, h("th", { scope: "row" }, d.date), h("td", null, String(d.success_count)), h("td", null, String(d.error_count))))));
		return h("div", null,
			h("div", { class: "legend" },
				h("span", { class: "key ok" }, `Succeeded: ${okTotal}`),
				h("span", { class: "key err" }, `Failed: ${errTotal}`)),
			svg, table);
	}

	function niceStep(max) {
		const raw = max / 4;
		const mag = Math.pow(10, Math.floor(Math.log10(raw || 1)));
		for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return Math.max(1, m * mag);
		return Math.max(1, 10 * mag);
	}

	function projectSummary(projects, byProject) {
		if (!projects.length) {
			return h("p", { class: "empty" }, "No projects yet. ", h("a", { href: "#/projects" }, "Create the first one."));
		}
		return h("table", { class: "table cards", id: "dashboard-projects" },
			h("thead", null, h("tr", null,
				h("th", { scope: "col" }, "Project"), h("th", { scope: "col", class: "num" }, "Tasks"),
				h("th", { scope: "col", class: "num" }, "Healthy nodes"))),
			h("tbody", null, projects.map((p) => {
				const nodes = byProject.get(Number(p.project_id)) || [];
				return h("tr", { "data-project-id": p.project_id },
					h("td", { "data-label": "Project" }, h("a", { href: `#/projects/${p.project_id}` }, p.title),
						p.remark ? h("div", { class: "muted small" }, p.remark) : null),
					h("td", { "data-label": "Tasks", class: "num" }, String(p.task_count ?? "—")),
					h("td", { "data-label": "Healthy nodes", class: "num" + (nodes.length ? "" : " warn-text") }, String(nodes.length)));
			})));
	}

	/* ------------------------------------------------------------ projects */

	async function viewProjects(ctx) {
		const box = h("div");
		const create = button("New project", () => openProjectDialog(null, () => later(load)), "btn-primary", { id: "btn-new-project" });
		render(ctx, "Projects", h("div", { class: "toolbar" }, create), box);
		const load = async () => {
			const [projects, clients] = await Promise.all([loadProjects(), loadClients().catch(() => [])]);
			if (ctx.stopped) return;
			const byProject = clientsByProject(clients);
			if (!projects.length) {
				put(box, h("p", { class: "empty" }, "No projects yet. A project groups tasks and the agents that run them."));
				return;
			}
			put(box, h("table", { class: "table cards", id: "projects-table" },
				h("caption", { class: "sr-only" }, "Projects"),
				h("thead", null, h("tr", null,
					h("th", { scope: "col" }, "ID"), h("th", { scope: "col" }, "Project"),
					h("th", { scope: "col", class: "num" }, "Tasks"), h("th", { scope: "col", class: "num" }, "Nodes"),
					h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
				h("tbody", null, projects.map((p) => projectRow(p, byProject.get(Number(p.project_id)) || [], load)))));
		};
		await load();
	}

	function projectRow(p, nodes, reload) {
		const msg = h("p", { class: "row-msg", role: "status" });
		const tr = h("tr", { "data-project-id": p.project_id },
			h("td", { "data-label": "ID", class: "mono" }, String(p.project_id)),
			h("td", { "data-label": "Project" },
				h("a", { href: `#/projects/${p.project_id}`, class: "strong" }, p.title),
				p.remark ? h("div", { class: "muted small" }, p.remark) : null),
			h("td", { "data-label": "Tasks", class: "num" }, String(p.task_count ?? "—")),
			h("td", { "data-label": "Nodes", class: "num" + (nodes.length ? "" : " warn-text") }, String(nodes.length)),
			h("td", { class: "actions" },
				h("div", { class: "btn-group" },
					h("a", { class: "btn btn-small", href: `#/projects/${p.project_id}` }, "Tasks", h("span", { class: "sr-only" }, ` of ${p.title}`)),
					h("a", { class: "btn btn-small", href: `#/projects/${p.project_id}/members` }, "Members", h("span", { class: "sr-only" }, ` of ${p.title}`)),
					button(["Edit", h("span", { class: "sr-only" }, ` ${p.title}`)], () => openProjectDialog(p, reload), "btn-small"),
					button(["Delete", h("span", { class: "sr-only" }, ` ${p.title}`)], () => confirmAction(
						"Delete project?",
						`Delete project “${p.title}” (ID ${p.project_id})? Its tasks stop running on every agent.`,
						"Delete project",
						async () => {
							await api("POST", "/project/delete", { project_id: p.project_id });
							toast(`Project “${p.title}” deleted.`, "ok");
							later(reload);
						}), "btn-small btn-danger-outline")),
				msg));
		return tr;
	}

	function openProjectDialog(p, onSaved) {
		const dlg = $("#dlg-project");
		const form = $("#project-form");
		form.reset();
		form.elements.project_id.value = p ? p.project_id : "";
		form.elements.title.value = p ? p.title : "";
		form.elements.remark.value = p ? p.remark || "" : "";
		$("#dlg-project-title").textContent = p ? `Edit project “${p.title}”` : "New project";
		form.onsubmit = async (ev) => {
			ev.preventDefault();
			clearErrors(form);
			if (!requireFields(form, ["title"])) return;
			const params = { title: form.elements.title.value.trim(), remark: form.elements.remark.value.trim() };
			const ok = await submitting(form, async () => {
				if (p) await api("POST", "/project/update", Object.assign({ project_id: p.project_id }, params));
				else await api("POST", "/project/create", params);
				return true;
			});
			if (!ok) return;
			closeDialog(dlg);
			toast(p ? "Project saved." : `Project “${params.title}” created.`, "ok");
			later(onSaved);
		};
		openDialog(dlg);
	}

	/* ------------------------------------------------------------ members */

	async function viewMembers(ctx) {
		const pid = Number(ctx.params[0]);
		const projects = await loadProjects();
		const p = projects.find((x) => Number(x.project_id) === pid);
		if (!p) return viewNoProject(ctx, pid);
		const listBox = h("div");
		const form = h("form", { class: "inline-form", id: "member-form", novalidate: true },
			h("div", { class: "field" },
				h("label", { for: "member-account" }, "Add a member by account"),
				h("div", { class: "input-row" },
					h("input", { id: "member-account", name: "account", required: true, autocomplete: "off", autocapitalize: "none", spellcheck: "false" }),
					h("button", { type: "submit", class: "btn btn-primary" }, "Add member")),
				h("p", { class: "field-error", "data-error-for": "account", hidden: true })),
			h("p", { class: "form-error", "data-error-for": "", role: "alert", hidden: true }));
		render(ctx, `Members of ${p.title}`,
			breadcrumbs([["Projects", "#/projects"], [p.title, `#/projects/${pid}`], ["Members"]]),
			h("section", { class: "card" }, form),
			listBox);
		const load = async () => {
			const res = await api("GET", "/project/users", { project_id: pid });
			if (ctx.stopped) return;
			const users = (res && res.list) || [];
			put(listBox, h("table", { class: "table cards", id: "members-table" },
				h("caption", { class: "sr-only" }, `Members of ${p.title}`),
				h("thead", null, h("tr", null, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Account"),
					h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
				h("tbody", null, users.map((u) => {
					const owner = Number(u.id) === Number(p.uid);
					const msg = h("p", { class: "row-msg", role: "status" });
					return h("tr", { "data-user-id": u.id },
						h("td", { "data-label": "Name" }, u.name),
						h("td", { "data-label": "Account", class: "mono" }, u.account || ""),
						h("td", { "data-label": "Role" }, owner ? "Owner" : (String(u.permission || "").includes("admin") ? "Administrator" : "Member")),
						h("td", { class: "actions" }, owner ? h("span", { class: "muted small" }, "Project owner") :
							button(["Remove", h("span", { class: "sr-only" }, ` ${u.account || u.name}`)], async (ev) => {
								const b = ev.currentTarget;
								b.disabled = true;
								msg.textContent = "";
								try {
									await api("POST", "/project/remove_user", { project_id: pid, user_id: u.id });
									toast(`${u.name} removed from ${p.title}.`, "ok");
									later(load);
								} catch (err) {
									msg.textContent = err.message;
									msg.className = "row-msg error";
									b.disabled = false;
								}
							}, "btn-small btn-danger-outline"), msg));
				}))));
		};
		form.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			clearErrors(form);
			if (!requireFields(form, ["account"])) return;
			const account = form.elements.account.value.trim();
			const ok = await submitting(form, async () => {
				await api("POST", "/project/add_user", { project_id: pid, user_account: account });
				return true;
			}, { 10007: "account" });
			if (!ok) return;
			form.reset();
			toast(`${account} added to ${p.title}.`, "ok");
			later(load);
		});
		await load();
	}

	function viewNoProject(ctx, pid) {
		render(ctx, "Project not found",
			h("p", { class: "error-box", role: "alert" }, `Project ${pid} does not exist or you are not a member of it.`),
			h("a", { href: "#/projects" }, "All projects"));
	}

	/* ------------------------------------------------------------ tasks of a project */

	async function viewProject(ctx) {
		const pid = Number(ctx.params[0]);
		const projects = await loadProjects();
		const p = projects.find((x) => Number(x.project_id) === pid);
		if (!p) return viewNoProject(ctx, pid);

		const nodesBox = h("p", { class: "nodes-line", id: "project-nodes", "aria-live": "polite" }, "Checking nodes…");
		const filter = h("input", { id: "task-filter", type: "search", placeholder: "Filter by name or command", autocomplete: "off" });
		const tbody = h("tbody");
		const table = h("table", { class: "table cards tasks", id: "tasks-table" },
			h("caption", { class: "sr-only" }, `Tasks of ${p.title}`),
			h("thead", null, h("tr", null,
				h("th", { scope: "col" }, "Task"), h("th", { scope: "col" }, "Cron"), h("th", { scope: "col" }, "Next run"),
				h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Now"), h("th", { scope: "col" }, "Last result"),
				h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
			tbody);
		const empty = h("p", { class: "empty", hidden: true }, "No tasks yet. Create one: it starts on the project's agents at its next tick.");
		const status = h("p", { class: "poll-status muted small", role: "status" });
		render(ctx, p.title,
			breadcrumbs([["Projects", "#/projects"], [p.title]]),
			p.remark ? h("p", { class: "muted" }, p.remark) : null,
			nodesBox,
			h("div", { class: "toolbar" },
				button("New task", () => openTaskDialog(pid, null, refresh), "btn-primary", { id: "btn-new-task" }),
				h("a", { class: "btn", href: `#/projects/${pid}/members` }, "Members"),
				h("div", { class: "grow" }),
				h("label", { for: "task-filter", class: "sr-only" }, "Filter tasks"), filter),
			table, empty, status,
			h("p", { class: "muted small" }, `Times are in your browser's time zone (${tzLabel()}). Running state and results update every few seconds.`));

		const rows = new Map(); /* task_id -> row state */
		const lastResults = new Map(); /* task_id -> log record or null */
		const limit = limiter(4);
		let tasks = [];
		let polls = 0;

		const fetchLast = (tid) => limit(async () => {
			if (ctx.stopped) return;
			try {
				const res = await api("GET", "/log/list", { project_id: pid, task_id: tid, page: 1, pagesize: 1 });
				lastResults.set(tid, (res && res.list && res.list[0]) || null);
			} catch (e) {
				if (!lastResults.has(tid)) lastResults.set(tid, undefined);
			}
			const r = rows.get(tid);
			if (r && !ctx.stopped) updateRow(r);
		});

		const applyFilter = () => {
			const q = filter.value.trim().toLowerCase();
			for (const r of rows.values()) {
				r.tr.hidden = !!q && !(`${r.task.name} ${r.task.command} ${r.task.remark || ""}`.toLowerCase().includes(q));
			}
		};
		filter.addEventListener("input", applyFilter);

		function makeRow(t) {
			const r = { task: t, wasRunning: Number(t.is_running) === 1 };
			r.cells = {
				name: h("td", { "data-label": "Task" }),
				cron: h("td", { "data-label": "Cron" }),
				next: h("td", { "data-label": "Next run" }),
				status: h("td", { "data-label": "Status" }),
				now: h("td", { "data-label": "Now" }),
				last: h("td", { "data-label": "Last result" }),
			};
			r.msg = h("p", { class: "row-msg", role: "status" });
			let sayTimer = null;
			/* Outcome of an action, under the row's buttons; successes fade. */
			const say = (text, kind) => {
				clearTimeout(sayTimer);
				r.msg.textContent = text;
				r.msg.className = "row-msg " + (kind || "");
				if (kind === "ok") sayTimer = setTimeout(() => { r.msg.textContent = ""; }, 10000);
			};
			const act = async (ev, fn) => {
				const b = ev.currentTarget;
				b.disabled = true;
				say("");
				try {
					await fn();
				} catch (err) {
					say(err.message, "error");
				} finally {
					b.disabled = false;
				}
			};
			r.btnToggle = button("", (ev) => act(ev, async () => {
				const t2 = r.task;
				const to = Number(t2.status) === 1 ? 0 : 1;
				await api("POST", "/crontab/save", taskParams(pid, t2, { status: to }));
				t2.status = to;
				updateRow(r);
				say(to ? "Resumed: runs at its next tick." : "Paused: no new runs are started.", "ok");
			}), "btn-small", { "data-action": "toggle" });
			r.btnRun = button(["Run now", h("span", { class: "sr-only" }, ` ${t.name}`)], (ev) => act(ev, async () => {
				await api("POST", "/crontab/execute", { project_id: pid, task_id: r.task.task_id });
				say("Run requested: an agent starts it now.", "ok");
				later(refresh, 1200);
			}), "btn-small", { "data-action": "run" });
			r.btnKill = button(["Kill", h("span", { class: "sr-only" }, ` ${t.name}`)], (ev) => act(ev, async () => {
				try {
					await api("POST", "/crontab/kill", { project_id: pid, task_id: r.task.task_id });
				} catch (err) {
					if (err.code !== 10020) throw err;
					/* 10020: the task is not running */
					say("Not running: there is no run to kill.", "error");
					later(refresh, 0);
					return;
				}
				say("Kill sent to the agents running it.", "ok");
				later(refresh, 800);
			}), "btn-small btn-danger-outline", { "data-action": "kill" });
			const btnEdit = button(["Edit", h("span", { class: "sr-only" }, ` ${t.name}`)], () => openTaskDialog(pid, r.task, refresh), "btn-small", { "data-action": "edit" });
			const logs = h("a", { class: "btn btn-small", href: `#/projects/${pid}/tasks/${encodeURIComponent(t.task_id)}/logs`, "data-action": "logs" },
				"Logs", h("span", { class: "sr-only" }, ` of ${t.name}`));
			const btnDelete = button(["Delete", h("span", { class: "sr-only" }, ` ${t.name}`)], () => confirmAction(
				"Delete task?",
				`Delete task “${r.task.name}”? It stops being scheduled on every agent. Its logs are kept.`,
				"Delete task",
				async () => {
					await api("POST", "/crontab/delete", { project_id: pid, task_id: r.task.task_id });
					toast(`Task “${r.task.name}” deleted.`, "ok");
					later(refresh);
				}), "btn-small btn-danger-outline", { "data-action": "delete" });
			/* The less used actions go in a menu, so a row's actions
			 * stay on one line at laptop widths. */
			const items = h("div", { class: "menu-items" }, r.btnToggle, btnDelete);
			const more = h("details", { class: "menu", "data-action": "more" },
				h("summary", { class: "btn btn-small" }, "More", h("span", { class: "sr-only" }, ` actions for ${t.name}`)),
				items);
			items.addEventListener("click", () => { more.open = false; });
			/* Placed on the page (fixed), not in the table, which clips. */
			more.addEventListener("toggle", () => {
				if (!more.open) return;
				const b = more.querySelector("summary").getBoundingClientRect();
				items.style.top = `${Math.round(b.bottom + 4)}px`;
				items.style.left = `${Math.round(Math.max(4, b.right - items.offsetWidth))}px`;
			});
			r.tr = h("tr", { "data-task-id": t.task_id },
				r.cells.name, r.cells.cron, r.cells.next, r.cells.status, r.cells.now, r.cells.last,
				h("td", { class: "actions" },
					h("div", { class: "btn-group" }, r.btnRun, r.btnKill, btnEdit, logs, more),
					r.msg));
			return r;
		}

		function updateRow(r) {
			const t = r.task;
			const running = Number(t.is_running) === 1;
			const paused = Number(t.status) !== 1;
			const sig = JSON.stringify([t.name, t.remark, t.command, t.cron, t.status, t.is_running, t.noseize, t.exclusion, t.timeout]);
			if (sig !== r.sig) {
				r.sig = sig;
				put(r.cells.name, 
					h("span", { class: "strong task-name" }, t.name),
					t.remark ? h("div", { class: "muted small" }, t.remark) : null,
					h("code", { class: "cmd", title: t.command }, t.command),
					flags(t));
				put(r.cells.cron, h("code", null, t.cron));
				put(r.cells.status, h("span", { class: "badge " + (paused ? "paused" : "scheduled") }, paused ? "Paused" : "Scheduled"));
				put(r.cells.now, running ?
					h("span", { class: "badge running" }, h("span", { class: "pulse", "aria-hidden": "true" }), "Running") :
					h("span", { class: "muted" }, "Idle"));
				put(r.btnToggle, paused ? "Resume" : "Pause", h("span", { class: "sr-only" }, ` ${t.name}`));
				r.btnKill.classList.toggle("btn-danger", running);
				r.btnKill.classList.toggle("btn-danger-outline", !running);
			}
			if (paused) {
				put(r.cells.next, h("span", { class: "muted" }, "— (paused)"));
			} else {
				const n = nextRunFor(t.cron, () => !ctx.stopped && updateRow(r));
				if (n.error) put(r.cells.next, h("span", { class: "error-text" }, n.error));
				else if (n.time) put(r.cells.next, h("time", { datetime: n.time.toISOString() }, fmtTime(n.time)),
					h("div", { class: "muted small" }, fmtRelative(n.time)));
				else put(r.cells.next, h("span", { class: "muted" }, "…"));
			}
			const log = lastResults.get(t.task_id);
			if (log === undefined) {
				put(r.cells.last, h("span", { class: "muted" }, lastResults.has(t.task_id) ? "unknown" : "…"));
			} else if (log === null) {
				put(r.cells.last, h("span", { class: "muted" }, "No runs yet"));
			} else {
				const failed = logFailed(log);
				put(r.cells.last, 
					h("span", { class: "badge " + (failed ? "err" : "ok") }, failed ? "Error" : "OK"),
					failed ? h("span", { class: "error-text small" }, " " + logErrorText(log)) : null,
					h("div", { class: "muted small" }, fmtTime(log.end_time || log.start_time)));
			}
		}

		function flags(t) {
			const f = [];
			if (Number(t.noseize) === 1) f.push("every node");
			if (Number(t.exclusion) === 1) f.push("no overlap");
			if (Number(t.timeout) > 0) f.push(`timeout ${t.timeout} s`);
			return f.length ? h("div", { class: "flags muted small" }, f.join(" · ")) : null;
		}

		async function refresh() {
			const [res, cl] = await Promise.all([
				api("GET", "/crontab/list", { project_id: pid }),
				api("GET", "/crontab/client_list", { project_id: pid }).catch((e) => e),
			]);
			if (ctx.stopped) return;
			polls++;
			tasks = (res && res.list) || [];
			tasks.sort((a, b) => (Number(a.create_time) || 0) - (Number(b.create_time) || 0) || String(a.name).localeCompare(b.name));
			const seen = new Set();
			let prev = null;
			for (const t of tasks) {
				seen.add(t.task_id);
				let r = rows.get(t.task_id);
				if (!r) {
					r = makeRow(t);
					rows.set(t.task_id, r);
					fetchLast(t.task_id);
				} else {
					const wasRunning = Number(r.task.is_running) === 1;
					r.task = t;
					/* A run just ended: its log is what "last result" shows. */
					if (wasRunning && Number(t.is_running) !== 1) {
						fetchLast(t.task_id);
						later(() => fetchLast(t.task_id), 2000);
					}
				}
				updateRow(r);
				/* Keep DOM order = list order without moving focused rows needlessly. */
				const want = prev ? prev.tr.nextSibling : tbody.firstChild;
				if (want !== r.tr) tbody.insertBefore(r.tr, want);
				prev = r;
			}
			for (const [tid, r] of rows) {
				if (!seen.has(tid)) {
					r.tr.remove();
					rows.delete(tid);
				}
			}
			/* Results of runs nobody watched start/finish here: every 5th poll. */
			if (polls % 5 === 0) for (const t of tasks) fetchLast(t.task_id);
			empty.hidden = tasks.length > 0;
			table.hidden = tasks.length === 0;
			applyFilter();
			if (cl instanceof ApiError) {
				nodesBox.className = "nodes-line error-text";
				nodesBox.textContent = `Nodes unknown: ${cl.message}`;
			} else {
				const nodes = parseClientList(cl);
				nodesBox.className = "nodes-line" + (nodes.length ? "" : " warn-text");
				put(nodesBox, nodes.length ?
					[h("strong", null, `${nodes.length} healthy node${nodes.length > 1 ? "s" : ""}: `),
						nodes.map((n, i) => [i ? ", " : "", h("span", { class: "mono" }, n.client_ip), n.version ? h("span", { class: "muted small" }, ` (${n.version})`) : null])] :
					"No healthy node: no agent serves this project, so its tasks do not run.");
			}
			status.textContent = `Updated ${fmtTime(new Date()).slice(11)}`;
		}

		await refresh();
		ctx.every(POLL_TASKS_MS, refresh);
	}

	function taskParams(pid, t, over) {
		const b = (v) => (Number(v) ? 1 : 0);
		const p = {
			project_id: pid,
			task_id: t.task_id || undefined,
			name: t.name,
			command: t.command,
			cron: t.cron,
			remark: t.remark || "",
			timeout: Number(t.timeout) || 0,
			status: b(t.status),
			noseize: b(t.noseize),
			exclusion: b(t.exclusion),
		};
		return Object.assign(p, over || {});
	}

	/* ------------------------------------------------------------ task dialog + cron preview */

	let previewSeq = 0;
	let previewTimer = null;

	function openTaskDialog(pid, t, onSaved) {
		const dlg = $("#dlg-task");
		const form = $("#task-form");
		form.reset();
		const el = form.elements;
		el.task_id.value = t ? t.task_id : "";
		el.name.value = t ? t.name : "";
		el.cron.value = t ? t.cron : "";
		el.command.value = t ? t.command : "";
		el.remark.value = t ? t.remark || "" : "";
		el.timeout.value = t ? Number(t.timeout) || 0 : 0;
		el.status.checked = t ? Number(t.status) === 1 : true;
		el.noseize.checked = t ? Number(t.noseize) === 1 : false;
		el.exclusion.checked = t ? Number(t.exclusion) === 1 : false;
		$("#dlg-task-title").textContent = t ? `Edit task “${t.name}”` : "New task";
		put($("#task-cron-preview"));
		el.cron.oninput = () => schedulePreview(form);
		form.onsubmit = async (ev) => {
			ev.preventDefault();
			clearErrors(form);
			if (!requireFields(form, ["name", "cron", "command"])) return;
			const timeout = Number(el.timeout.value || 0);
			if (!Number.isInteger(timeout) || timeout < 0) {
				fieldError(form, "timeout", "A whole number of seconds, 0 for none.");
				el.timeout.focus();
				return;
			}
			const params = taskParams(pid, Object.assign({}, t || {}, {
				name: el.name.value.trim(),
				cron: el.cron.value.trim(),
				command: el.command.value,
				remark: el.remark.value.trim(),
				timeout,
				status: el.status.checked ? 1 : 0,
				noseize: el.noseize.checked ? 1 : 0,
				exclusion: el.exclusion.checked ? 1 : 0,
			}));
			const ok = await submitting(form, async () => {
				await api("POST", "/crontab/save", params);
				return true;
			});
			if (!ok) return;
			closeDialog(dlg);
			toast(t ? `Task “${params.name}” saved.` : `Task “${params.name}” created.`, "ok");
			later(onSaved);
		};
		openDialog(dlg);
		if (t) schedulePreview(form, true);
	}

	function schedulePreview(form, now) {
		clearTimeout(previewTimer);
		previewTimer = setTimeout(() => cronPreview(form), now ? 0 : 300);
	}

	/* Ask the service's cron engine for the next 5 fire times of what is
	 * typed; its error message goes next to the field. Answers that arrive
	 * after newer input are dropped. */
	async function cronPreview(form) {
		const input = form.elements.cron;
		const box = $("#task-cron-preview");
		const errSlot = $('[data-error-for="cron"]', form);
		const expr = input.value.trim();
		const seq = ++previewSeq;
		const clearCronError = () => {
			errSlot.hidden = true;
			errSlot.textContent = "";
			input.removeAttribute("aria-invalid");
		};
		if (!expr) {
			clearCronError();
			put(box);
			return;
		}
		box.setAttribute("aria-busy", "true");
		try {
			const times = await fetchNext(expr, 5);
			if (seq !== previewSeq) return;
			clearCronError();
			put(box, 
				h("p", { class: "preview-title" }, times.length ? "Next 5 runs:" : "This expression never fires."),
				times.length ? h("ol", { class: "preview-list" }, times.map((d) =>
					h("li", null, h("time", { datetime: d.toISOString() }, fmtTime(d)), h("span", { class: "muted small" }, ` ${fmtRelative(d)}`)))) : null);
		} catch (err) {
			if (seq !== previewSeq) return;
			put(box);
			if (err.code === 401) return;
			fieldError(form, "cron", err.message);
		} finally {
			if (seq === previewSeq) box.removeAttribute("aria-busy");
		}
	}

	/* ------------------------------------------------------------ logs */

	async function viewLogs(ctx) {
		const pid = Number(ctx.params[0]);
		const tid = ctx.params[1];
		const page = Math.max(1, parseInt(ctx.query.get("page") || "1", 10) || 1);
		const pagesize = [10, 20, 50, 100].includes(Number(ctx.query.get("pagesize"))) ? Number(ctx.query.get("pagesize")) : 20;
		const errorsOnly = ctx.query.get("errors") === "1";
		const [projects, taskRes] = await Promise.all([loadProjects(), api("GET", "/crontab/list", { project_id: pid })]);
		const p = projects.find((x) => Number(x.project_id) === pid);
		if (!p) return viewNoProject(ctx, pid);
		const task = ((taskRes && taskRes.list) || []).find((t) => String(t.task_id) === tid);
		const taskName = task ? task.name : `task ${tid}`;
		const go = (over) => {
			location.hash = hashFor(ctx.path, Object.assign({ page, pagesize, errors: errorsOnly ? 1 : 0 }, over));
		};

		const errCheck = h("input", { type: "checkbox", id: "logs-errors-only", checked: errorsOnly });
		errCheck.addEventListener("change", () => go({ page: 1, errors: errCheck.checked ? 1 : 0 }));
		const sizeSel = h("select", { id: "logs-pagesize" }, [10, 20, 50, 100].map((n) => h("option", { value: n, selected: n === pagesize }, String(n))));
		sizeSel.addEventListener("change", () => go({ page: 1, pagesize: Number(sizeSel.value) }));
		const listBox = h("div", { id: "logs-box" });
		const pager = h("nav", { class: "pager", "aria-label": "Log pages" });
		const msg = h("p", { class: "row-msg", role: "status" });
		render(ctx, `Logs of ${taskName}`,
			breadcrumbs([["Projects", "#/projects"], [p.title, `#/projects/${pid}`], [`Logs of ${taskName}`]]),
			task ? h("p", { class: "muted" }, h("code", null, task.cron), " · ", h("code", { class: "cmd" }, task.command)) : null,
			h("div", { class: "toolbar" },
				h("label", { class: "inline-check", for: "logs-errors-only" }, errCheck, " Errors only"),
				h("label", { for: "logs-pagesize", class: "inline" }, "Per page ", sizeSel),
				h("div", { class: "grow" }),
				button("Refresh", () => later(load), "btn-small", { id: "btn-logs-refresh" }),
				button("Clean logs", () => confirmAction("Delete the logs?",
					`Delete every log record of “${taskName}”? This cannot be undone.`, "Delete logs", async () => {
						await api("POST", "/log/clean", { project_id: pid, task_id: tid });
						toast("Logs deleted.", "ok");
						go({ page: 1 });
						later(load);
					}), "btn-small btn-danger-outline")),
			msg, listBox, pager,
			h("p", { class: "muted small" }, `Times are in your browser's time zone (${tzLabel()}).`));

		let lastSig = "";
		const load = async () => {
			const params = { project_id: pid, task_id: tid, page, pagesize };
			if (errorsOnly) params.errors_only = 1;
			const res = await api("GET", "/log/list", params);
			if (ctx.stopped) return;
			let list = (res && res.list) || [];
			const total = Number(res && res.total) || 0;
			/* If the service ignores the filter, still show errors only. */
			if (errorsOnly) list = list.filter(logFailed);
			const sig = JSON.stringify([total, list.map((l) => l.id)]);
			if (sig === lastSig) return;
			lastSig = sig;
			renderLogs(list, p, taskName);
			const pages = Math.max(1, Math.ceil(total / pagesize));
			put(pager, 
				page > 1 ? h("a", { class: "btn btn-small", href: hashFor(ctx.path, { page: page - 1, pagesize, errors: errorsOnly ? 1 : 0 }), rel: "prev" }, "‹ Newer") :
					h("span", { class: "btn btn-small", "aria-disabled": "true" }, "‹ Newer"),
				h("span", { class: "pager-info" }, `Page ${page} of ${pages} · ${total} run${total === 1 ? "" : "s"}`),
				page < pages ? h("a", { class: "btn btn-small", href: hashFor(ctx.path, { page: page + 1, pagesize, errors: errorsOnly ? 1 : 0 }), rel: "next" }, "Older ›") :
					h("span", { class: "btn btn-small", "aria-disabled": "true" }, "Older ›"));
		};

		/* The run whole: lists carry previews of long outputs. */
		const logWhole = (id) => api("GET", "/log/detail", { id, project_id: pid });

		function renderLogs(list) {
			if (!list.length) {
				put(listBox, h("p", { class: "empty" }, errorsOnly ? "No failed runs on this page." : "No runs logged yet."));
				return;
			}
			put(listBox, h("table", { class: "table cards logs", id: "logs-table" },
				h("caption", { class: "sr-only" }, `Runs of ${taskName}, newest first`),
				h("thead", null, h("tr", null,
					h("th", { scope: "col" }, "Planned"), h("th", { scope: "col" }, "Started"), h("th", { scope: "col" }, "Ended"),
					h("th", { scope: "col", class: "num" }, "Duration"), h("th", { scope: "col" }, "Agent"),
					h("th", { scope: "col" }, "Result"), h("th", { scope: "col" }, "Output"))),
				h("tbody", null, list.map((log) => {
					const r = parseResult(log);
					const failed = logFailed(log);
					const dur = logDuration(log);
					const firstLine = r.output.split("\n").find((l) => l.trim()) || "";
					return h("tr", { "data-log-id": log.id, class: failed ? "failed" : "" },
						h("td", { "data-label": "Planned" }, fmtTime(log.plan_time)),
						h("td", { "data-label": "Started" }, fmtTime(log.start_time)),
						h("td", { "data-label": "Ended" }, fmtTime(log.end_time)),
						h("td", { "data-label": "Duration", class: "num" }, fmtDuration(dur)),
						h("td", { "data-label": "Agent", class: "mono" }, log.client_ip || "—"),
						h("td", { "data-label": "Result" },
							h("span", { class: "badge " + (failed ? "err" : "ok") }, failed ? "Error" : "OK"),
							failed ? h("div", { class: "error-text small" }, logErrorText(log)) : null),
						h("td", { "data-label": "Output", class: "out-cell" },
							firstLine ? h("code", { class: "out-peek" }, firstLine.slice(0, 120)) : h("span", { class: "muted small" }, "(no output)"),
							button(["View output", h("span", { class: "sr-only" }, ` of the run started ${fmtTime(log.start_time)}`)],
								() => showOutput(log, taskName, () => logWhole(log.id)), "btn-small", { "data-action": "output" })));
				}))));
		}

		await load();
		if (page === 1) ctx.every(POLL_SLOW_MS / 2, load);
	}

	/* The output dialog of a run: what the list had at once (a preview of
	 * a long output), then the whole run from log/detail. */
	async function showOutput(log, taskName, whole) {
		const dlg = $("#dlg-output");
		$("#dlg-output-title").textContent = `Output of ${taskName}`;
		fillOutput(log, whole ? "loading the whole output…" : "");
		const wrap = $("#output-wrap");
		const pre = $("#output-text");
		pre.classList.toggle("nowrap", !wrap.checked);
		wrap.onchange = () => pre.classList.toggle("nowrap", !wrap.checked);
		openDialog(dlg);
		pre.scrollTop = 0;
		pre.focus();
		if (!whole) return;
		dlg.dataset.logId = String(log.id);
		dlg.dataset.whole = "0";
		let full = null, note = "";
		try {
			full = await whole();
		} catch (e) {
			note = `showing the list's preview: ${e.message}`;
		}
		/* The dialog may have been closed or opened on another run. */
		if (!dlg.open || dlg.dataset.logId !== String(log.id)) return;
		fillOutput(full || log, note);
		dlg.dataset.whole = full ? "1" : "0";
	}

	function fillOutput(log, note) {
		const r = parseResult(log);
		const dur = logDuration(log);
		const facts = [
			["Planned", fmtTime(log.plan_time)], ["Started", fmtTime(log.start_time)], ["Ended", fmtTime(log.end_time)],
			["Duration", fmtDuration(dur)], ["Agent", log.client_ip || "—"], ["Result", logFailed(log) ? "Error" : "OK"],
		];
		put($("#output-facts"), ...facts.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v))));
		const errText = [r.systemError, r.error].filter(Boolean).join("; ");
		const errEl = $("#output-error");
		errEl.hidden = !errText;
		errEl.textContent = errText ? `Error: ${errText}` : "";
		const pre = $("#output-text");
		pre.textContent = r.output || "(no output)";
		pre.classList.toggle("empty-out", !r.output);
		const lines = r.output ? r.output.split("\n").length - (r.output.endsWith("\n") ? 1 : 0) : 0;
		const size = log.truncated && log.result_bytes ?
			`preview of ${fmtBytes(Number(log.result_bytes))}` :
			`${fmtBytes(new TextEncoder().encode(r.output).length)} · ${lines} line${lines === 1 ? "" : "s"}`;
		$("#output-size").textContent = size + (note ? ` · ${note}` : "");
	}

	/* ------------------------------------------------------------ nodes */

	async function viewNodes(ctx) {
		const box = h("div", { id: "nodes-box" });
		render(ctx, "Nodes",
			h("p", { class: "muted" }, "Agents that are alive right now (each renews its registration every few seconds), per project."),
			box);
		const load = async () => {
			const [projects, clients] = await Promise.all([loadProjects(), loadClients()]);
			if (ctx.stopped) return;
			const byProject = clientsByProject(clients);
			const ids = new Set(projects.map((p) => Number(p.project_id)));
			for (const id of byProject.keys()) if (!ids.has(id)) projects.push({ project_id: id, title: `Project ${id}` });
			if (!projects.length) {
				put(box, h("p", { class: "empty" }, "No projects, so no nodes."));
				return;
			}
			put(box, ...projects.map((p) => {
				const nodes = (byProject.get(Number(p.project_id)) || []).slice().sort((a, b) => String(a.client_ip).localeCompare(String(b.client_ip), undefined, { numeric: true }));
				const head = `h-nodes-${p.project_id}`;
				return h("section", { class: "card node-card", "data-project-id": p.project_id, "aria-labelledby": head },
					h("div", { class: "section-head" },
						h("h2", { id: head }, h("a", { href: `#/projects/${p.project_id}` }, p.title)),
						h("span", { class: "badge " + (nodes.length ? "ok" : "err"), "data-node-count": nodes.length },
							`${nodes.length} healthy node${nodes.length === 1 ? "" : "s"}`)),
					nodes.length ? h("table", { class: "table cards" },
						h("caption", { class: "sr-only" }, `Nodes of ${p.title}`),
						h("thead", null, h("tr", null, h("th", { scope: "col" }, "IP"), h("th", { scope: "col" }, "Version"),
							h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
						h("tbody", null, nodes.map((n) => {
							const msg = h("p", { class: "row-msg", role: "status" });
							return h("tr", { "data-client-ip": n.client_ip },
								h("td", { "data-label": "IP", class: "mono" }, n.client_ip),
								h("td", { "data-label": "Version" }, n.version || "—"),
								h("td", { class: "actions" },
									button(["Reload config", h("span", { class: "sr-only" }, ` of ${n.client_ip}`)], async (ev) => {
										const b = ev.currentTarget;
										b.disabled = true;
										try {
											await api("POST", "/client/reload/config", { project_id: p.project_id, client_ip: n.client_ip });
											msg.className = "row-msg ok";
											msg.textContent = "Reload requested.";
										} catch (err) {
											msg.className = "row-msg error";
											msg.textContent = err.message;
										} finally {
											b.disabled = false;
										}
									}, "btn-small"), msg));
						}))) :
						h("p", { class: "warn-text" }, "No healthy node: this project's tasks do not run."));
			}));
		};
		await load();
		ctx.every(POLL_SLOW_MS / 2, load);
	}

	/* ------------------------------------------------------------ users */

	async function viewUsers(ctx) {
		if (!session.isAdmin()) {
			render(ctx, "Users", h("p", { class: "error-box", role: "alert" }, "Only administrators manage users."));
			return;
		}
		const page = Math.max(1, parseInt(ctx.query.get("page") || "1", 10) || 1);
		const pagesize = 50;
		const box = h("div");
		const pager = h("nav", { class: "pager", "aria-label": "User pages" });
		render(ctx, "Users",
			h("div", { class: "toolbar" }, button("New user", () => openUserDialog(load), "btn-primary", { id: "btn-new-user" })),
			box, pager);
		async function load() {
			const res = await api("GET", "/user/list", { page, pagesize });
			if (ctx.stopped) return;
			const users = (res && res.list) || [];
			const total = Number(res && res.total) || users.length;
			put(box, h("table", { class: "table cards", id: "users-table" },
				h("caption", { class: "sr-only" }, "Users"),
				h("thead", null, h("tr", null, h("th", { scope: "col" }, "ID"), h("th", { scope: "col" }, "Name"),
					h("th", { scope: "col" }, "Account"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "Created"),
					h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
				h("tbody", null, users.map((u) => {
					const self = session.user && Number(u.id) === Number(session.user.id);
					const admin = String(u.permission || "").split(",").map((x) => x.trim()).includes("admin");
					return h("tr", { "data-user-id": u.id, "data-account": u.account },
						h("td", { "data-label": "ID", class: "mono" }, String(u.id)),
						h("td", { "data-label": "Name" }, u.name, self ? h("span", { class: "muted small" }, " (you)") : null),
						h("td", { "data-label": "Account", class: "mono" }, u.account),
						h("td", { "data-label": "Role" }, admin ? "Administrator" : "User"),
						h("td", { "data-label": "Created" }, fmtTime(u.create_time)),
						h("td", { class: "actions" }, h("div", { class: "btn-group" },
							button(["Reset password", h("span", { class: "sr-only" }, ` of ${u.account}`)], () => openResetDialog(u), "btn-small"),
							self ? null : button(["Delete", h("span", { class: "sr-only" }, ` ${u.account}`)], () => confirmAction(
								"Delete user?", `Delete user “${u.name}” (${u.account})? They can no longer sign in.`, "Delete user",
								async () => {
									await api("POST", "/user/delete", { id: u.id });
									toast(`User ${u.account} deleted.`, "ok");
									later(load);
								}), "btn-small btn-danger-outline"))));
				}))));
			const pages = Math.max(1, Math.ceil(total / pagesize));
			put(pager, pages > 1 ? [
				page > 1 ? h("a", { class: "btn btn-small", href: hashFor("/users", { page: page - 1 }) }, "‹ Previous") : null,
				h("span", { class: "pager-info" }, `Page ${page} of ${pages} · ${total} users`),
				page < pages ? h("a", { class: "btn btn-small", href: hashFor("/users", { page: page + 1 }) }, "Next ›") : null] : []);
		}
		await load();
	}

	function openUserDialog(onSaved) {
		const dlg = $("#dlg-user");
		const form = $("#user-form");
		form.reset();
		form.onsubmit = async (ev) => {
			ev.preventDefault();
			clearErrors(form);
			if (!requireFields(form, ["name", "account", "password"])) return;
			if (!passwordLongEnough(form, "password")) return;
			const params = {
				name: form.elements.name.value.trim(),
				account: form.elements.account.value.trim(),
				password: form.elements.password.value,
			};
			if (form.elements.admin.checked) params.permission = "admin,user";
			const ok = await submitting(form, async () => {
				await api("POST", "/user/create", params);
				return true;
			});
			if (!ok) return;
			closeDialog(dlg);
			toast(`User ${params.account} created.`, "ok");
			later(onSaved);
		};
		openDialog(dlg);
	}

	function openResetDialog(u) {
		const dlg = $("#dlg-reset");
		const form = $("#reset-form");
		form.reset();
		form.elements.user_id.value = u.id;
		$("#reset-who").textContent = `Set a new password for ${u.name} (${u.account}). Tell them to change it after signing in.`;
		form.onsubmit = async (ev) => {
			ev.preventDefault();
			clearErrors(form);
			if (!requireFields(form, ["new_password"])) return;
			if (!passwordLongEnough(form, "new_password")) return;
			const ok = await submitting(form, async () => {
				const res = await api("POST", "/user/reset_password", { id: u.id, new_password: form.elements.new_password.value });
				keepNewToken(res); /* only when it was our own */
				return true;
			});
			if (!ok) return;
			closeDialog(dlg);
			toast(`Password of ${u.account} reset.`, "ok");
		};
		openDialog(dlg);
	}

	/* ------------------------------------------------------------ start */

	function init() {
		wireDialogs();
		$("#login-form").addEventListener("submit", onLogin);
		$("#password-form").addEventListener("submit", onChangePassword);
		$("#btn-logout").addEventListener("click", logout);
		$("#btn-change-password").addEventListener("click", openPasswordDialog);
		$("#banner-change-password").addEventListener("click", openPasswordDialog);
		$("#menu-toggle").addEventListener("click", () => {
			const open = $("#nav").classList.toggle("open");
			$("#menu-toggle").setAttribute("aria-expanded", String(open));
		});
		$(".skip").addEventListener("click", (ev) => {
			ev.preventDefault();
			const target = $("#main h1") || $("#main");
			if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
			target.focus();
		});
		/* An open row menu closes on a click elsewhere or Escape. */
		document.addEventListener("click", (ev) => {
			for (const m of $$("details.menu[open]")) if (!m.contains(ev.target)) m.open = false;
		});
		/* A fixed menu would stay put while the page moves. */
		window.addEventListener("scroll", () => {
			for (const m of $$("details.menu[open]")) m.open = false;
		}, true);
		window.addEventListener("resize", () => {
			for (const m of $$("details.menu[open]")) m.open = false;
		});
		document.addEventListener("keydown", (ev) => {
			if (ev.key !== "Escape") return;
			for (const m of $$("details.menu[open]")) {
				m.open = false;
				m.querySelector("summary").focus();
			}
		});
		window.addEventListener("hashchange", () => {
			if (location.hash.startsWith("#/") || location.hash === "" || location.hash === "#") route();
		});
		/* Another tab signed out or in. */
		window.addEventListener("storage", (ev) => {
			if (ev.key !== TOKEN_KEY) return;
			if (!ev.newValue && session.store === localStorage) {
				session.clear();
				showLogin("You signed out in another tab.");
			}
		});
		if (session.load()) startApp();
		else showLogin();
	}

	if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
	else init();
})();
