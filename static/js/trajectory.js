// Draws one line chart per scale on the participant page from the json_script data.
// The same numbers are in the table beside each chart, so nothing depends on this script.
(function () {
  "use strict";
  var source = document.getElementById("trajectory-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  var charts = JSON.parse(source.textContent);
  charts.forEach(function (chart) {
    var canvas = document.getElementById(chart.id);
    if (!canvas) {
      return;
    }
    new Chart(canvas, {
      type: "line",
      data: {
        labels: chart.labels,
        datasets: [
          {
            label: chart.title,
            data: chart.values,
            borderColor: "#005eb8",
            backgroundColor: "#005eb8",
            pointRadius: 5,
            pointStyle: "rectRot",
            spanGaps: false,
          },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        plugins: { legend: { display: true } },
        scales: { y: { beginAtZero: true } },
      },
    });
  });
})();
