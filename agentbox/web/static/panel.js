// agentbox web panel. Every page works without this script except chat; it adds
// streaming chat, live refresh of the pending list, the live log and confirmations.
// Text from the model or the log is only ever set as textContent; HTML comes from the server,
// which renders Markdown with raw HTML escaped.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

// Forms that undo something ask first.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset?.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// Parts of a page that refresh themselves (the pending pairing requests).
for (const box of document.querySelectorAll("[data-refresh]")) {
  const every = Number(box.dataset.every || 5) * 1000;
  setInterval(async () => {
    if (document.hidden || box.contains(document.activeElement)) return;
    try {
      const answer = await fetch(box.dataset.refresh, { headers: { Accept: "text/html" } });
      if (answer.ok) box.innerHTML = await answer.text();
    } catch (_) { /* the gateway restarts: try again next time */ }
  }, every);
}

// The live log.
for (const pre of document.querySelectorAll("[data-tail]")) {
  const source = new EventSource(pre.dataset.tail);
  source.onmessage = (event) => {
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(JSON.parse(event.data) + "\n");
    while (pre.childNodes.length > 600) pre.firstChild.remove();
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  };
}
document.querySelectorAll("pre.log").forEach((pre) => { pre.scrollTop = pre.scrollHeight; });

// Chat: send with fetch, read the answer's server-sent events as they arrive.
const composer = document.getElementById("composer");
if (composer) setUpChat(composer);

function setUpChat(form) {
  const messages = document.getElementById("messages");
  const text = form.querySelector("textarea");
  const fileInput = form.querySelector('input[type="file"]');
  const attached = form.querySelector(".attached");
  const button = form.querySelector('button[type="submit"]');
  let pasted = [];

  const showAttached = () => {
    const names = [...fileInput.files, ...pasted].map((f) => f.name || "pasted image");
    attached.textContent = names.length ? "Attached: " + names.join(", ") : "";
  };
  fileInput.addEventListener("change", showAttached);
  text.addEventListener("paste", (event) => {
    for (const item of event.clipboardData?.items || []) {
      if (item.kind === "file" && item.type.startsWith("image/")) pasted.push(item.getAsFile());
    }
    showAttached();
  });
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  window.scrollTo(0, document.body.scrollHeight);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim() && !fileInput.files.length && !pasted.length) return;
    const body = new FormData(form);
    for (const file of pasted) body.append("image", file, file.name || "pasted.png");
    const bubble = addTurn(messages, text.value, [...fileInput.files, ...pasted]);
    text.value = ""; fileInput.value = ""; pasted = []; showAttached();
    button.disabled = true;
    try {
      const answer = await fetch(form.action, { method: "POST", body, headers: { "X-CSRF-Token": csrf() } });
      if (!answer.ok || !answer.body) {
        const problem = await answer.text();
        let message = problem;
        try { message = JSON.parse(problem).error || problem; } catch (_) { /* plain text */ }
        bubble.fail(message || `the gateway answered ${answer.status}`);
        return;
      }
      await readEvents(answer.body, bubble);
    } catch (error) {
      bubble.fail("the connection was lost; the answer will be in the transcript once it is ready");
    } finally {
      button.disabled = false;
      text.focus();
    }
  });
}

function element(tag, className, content) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (content !== undefined) node.textContent = content;
  return node;
}

// A user message and an empty assistant bubble that the events fill in.
function addTurn(messages, question, files) {
  const turn = element("article", "turn");
  const user = element("div", "msg user");
  user.append(element("div", "who", "You"), element("div", "text", question));
  for (const file of files) {
    const img = element("img", "thumb");
    img.alt = "image sent with this message";
    img.src = URL.createObjectURL(file);
    user.append(img);
  }
  const bot = element("div", "msg bot streaming");
  const progress = element("div", "progress", "thinking…");
  const answer = element("div", "md");
  bot.append(element("div", "who", "Assistant"), progress, answer);
  bot.dataset.deltas = "0";
  turn.append(user, bot);
  messages.append(turn);
  turn.scrollIntoView({ block: "end" });
  return {
    delta(piece) {
      progress.textContent = "";
      answer.textContent += piece;
      bot.dataset.deltas = String(Number(bot.dataset.deltas) + 1);
      bot.scrollIntoView({ block: "end" });
    },
    progress(note) { progress.textContent = note; },
    done(data) {
      progress.remove();
      answer.innerHTML = data.html; // rendered by the server, raw HTML from the model escaped
      if (data.tools) answer.insertAdjacentHTML("beforebegin", data.tools);
      for (const file of data.attachments || []) {
        if (!file.url) continue;
        if (file.image) {
          const img = element("img", "out");
          img.src = file.url; img.alt = file.name + " from the assistant";
          bot.append(img);
        } else {
          const link = element("a", "", file.name);
          link.href = file.url;
          const line = element("p");
          line.append(link);
          bot.append(line);
        }
      }
      const usage = data.usage || {};
      bot.append(element("div", "meta muted", `${usage.input_tokens || 0} in · ${usage.output_tokens || 0} out`));
      bot.classList.remove("streaming");
      if (!data.ok) bot.parentElement.classList.add("failed");
      bot.dataset.done = "1";
    },
    fail(message) {
      progress.textContent = "⚠ " + message;
      bot.parentElement.classList.add("failed");
      bot.classList.remove("streaming");
      bot.dataset.done = "1";
    },
  };
}

// Server-sent events over a fetch body: "event: name\ndata: json\n\n" blocks.
async function readEvents(stream, bubble) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (!data) continue;
      const payload = JSON.parse(data);
      if (name === "delta") bubble.delta(payload.text);
      else if (name === "progress") bubble.progress(payload.text);
      else if (name === "done") bubble.done(payload);
      else if (name === "error") bubble.fail(payload.message);
    }
  }
}
