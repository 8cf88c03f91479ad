// Generates sample.jpg, the image POST /thumbnails resizes when it is sent no body. Run once:
//   node sample/assets/make-sample-image.mjs
// A synthetic picture (gradients, shapes and fine stripes, so that resizing has detail to work on) keeps the sample
// free of third-party image licences.
import sharp from 'sharp';

const width = 1600;
const height = 1067;
const stripes = Array.from({ length: 60 }, (_, i) => `<rect x="${980 + i * 8}" y="620" width="4" height="300" fill="#1d3557" />`).join('');
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#4a90d9" /><stop offset="0.6" stop-color="#f6d6ad" /><stop offset="1" stop-color="#e07a5f" />
    </linearGradient>
    <radialGradient id="sun" cx="0.5" cy="0.5" r="0.5">
      <stop offset="0" stop-color="#fff8e1" /><stop offset="1" stop-color="#ffb703" />
    </radialGradient>
  </defs>
  <rect width="${width}" height="${height}" fill="url(#sky)" />
  <circle cx="1360" cy="380" r="130" fill="url(#sun)" />
  <path d="M0 760 L260 520 L470 700 L720 430 L1010 720 L1250 560 L1600 780 L1600 1067 L0 1067 Z" fill="#3d405b" />
  <path d="M0 880 Q400 780 800 880 T1600 860 L1600 1067 L0 1067 Z" fill="#81b29a" />
  ${stripes}
  <text x="80" y="150" font-family="sans-serif" font-size="96" font-weight="bold" fill="#1d3557">nestjs-background-work</text>
  <text x="84" y="230" font-family="sans-serif" font-size="48" fill="#1d3557">a synthetic ${width} × ${height} sample image</text>
</svg>`;

const info = await sharp(Buffer.from(svg)).jpeg({ quality: 80, mozjpeg: true }).toFile(new URL('./sample.jpg', import.meta.url).pathname);
console.log(`sample.jpg: ${info.width}x${info.height}, ${info.size} bytes`);
