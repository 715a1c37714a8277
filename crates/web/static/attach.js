// Attaching a file to a support request (Order 270 §14): the chosen file's bytes are posted to the
// API as they are; the server tells the type by content (PDF, PNG, JPEG) and refuses more than 10 MiB.
// Texts come from the page (Fluent), never from this file.
'use strict';
(function () {
  const box = document.querySelector('[data-attach]');
  if (!box) return;
  const input = box.querySelector('input[type=file]');
  const button = box.querySelector('button');
  const status = box.querySelector('[role=alert]');
  button.addEventListener('click', async () => {
    const file = input.files && input.files[0];
    if (!file) { status.textContent = box.dataset.msgChoose; return; }
    button.disabled = true;
    status.textContent = box.dataset.msgWorking;
    try {
      const answer = await fetch(`${box.dataset.endpoint}?filename=${encodeURIComponent(file.name)}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream', 'Accept-Language': box.dataset.lang },
        body: file,
      });
      if (answer.ok) { window.location.reload(); return; }
      const p = await answer.json().catch(() => ({}));
      status.textContent = [p.title, p.detail].concat((p.errors || []).map((e) => e.detail)).filter(Boolean).join(' · ');
    } catch (e) {
      status.textContent = box.dataset.msgFailed;
    } finally {
      button.disabled = false;
    }
  });
}());
