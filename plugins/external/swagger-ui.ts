import fp from 'fastify-plugin'
import swaggerUi from '@fastify/swagger-ui'

/**
 * The OpenAPI document, readable at /docs (and as JSON at /docs/json). Swagger UI's page loads only
 * its own scripts and styles from /docs/static: it runs under the app's CSP unchanged (helmet's,
 * script-src 'self'), so no policy of its own. (Its validator badge from swagger.io is off by default.)
 */
export default fp(async function swaggerUiPlugin (fastify) {
  await fastify.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: false,
    // BaseLayout: no top bar. The standalone layout's bar draws Swagger's logo, an SVG whose inline
    // <style> the CSP (style-src 'self') refuses; the document needs no URL bar anyway.
    uiConfig: { deepLinking: true, layout: 'BaseLayout' }
  })
}, { name: 'swagger-ui', fastify: '5.x', dependencies: ['swagger'] })
